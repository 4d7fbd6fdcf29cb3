import { assert } from '../lib/assert.js'
import { parseNodeId, type NodeId } from '../lib/ids.js'
import { galaxy } from '../proto/gen/raft.js'
import type { ConfChange, ConfState, Entry, EntryPayload, HardState, Message, MessageType, Snapshot, SnapshotMetadata } from '../raft/types.js'
import { DecodeError } from './decode-error.js'

const changeTypes: ReadonlySet<string> = new Set(['addLearner', 'addVoter', 'removeNode'])

function toChange (change: galaxy.ConfChange.$Properties): ConfChange {
  assert(typeof change.type === 'string' && changeTypes.has(change.type), 'unknown conf change type', { type: change.type })
  return { type: change.type as ConfChange['type'], node: (change.node ?? '') as NodeId }
}

function toConf (conf: galaxy.ConfState.$Properties | null | undefined): ConfState {
  return { voters: (conf?.voters ?? []) as NodeId[], learners: (conf?.learners ?? []) as NodeId[] }
}

function toMetadata (metadata: galaxy.SnapshotMetadata.$Properties | null | undefined): SnapshotMetadata {
  return { index: Number(metadata?.index ?? 0), term: Number(metadata?.term ?? 0), conf: toConf(metadata?.conf) }
}

/** Protobuf encodings of the Raft core's records, for storage and (later) the wire. */
export const raftCodec = {
  encodeEntry (entry: Entry): Uint8Array {
    return galaxy.Entry.encode(entry.type === 'normal'
      ? { term: entry.term, index: entry.index, data: entry.data }
      : { term: entry.term, index: entry.index, change: entry.change }).finish()
  },
  decodeEntry (bytes: Uint8Array): Entry {
    const message = galaxy.Entry.decode(bytes)
    const term = Number(message.term)
    const index = Number(message.index)
    if (message.change != null) return { term, index, type: 'confChange', change: toChange(message.change) }
    return { term, index, type: 'normal', data: message.data }
  },
  encodeHardState (state: HardState): Uint8Array {
    return galaxy.HardState.encode({ term: state.term, vote: state.vote ?? '', commit: state.commit }).finish()
  },
  decodeHardState (bytes: Uint8Array): HardState {
    const message = galaxy.HardState.decode(bytes)
    return { term: Number(message.term), vote: message.vote === '' ? null : message.vote as NodeId, commit: Number(message.commit) }
  },
  encodeSnapshot (snapshot: Snapshot): Uint8Array {
    const { metadata } = snapshot
    return galaxy.Snapshot.encode({ metadata: { index: metadata.index, term: metadata.term, conf: { voters: [...metadata.conf.voters], learners: [...metadata.conf.learners] } }, data: snapshot.data }).finish()
  },
  decodeSnapshot (bytes: Uint8Array): Snapshot {
    const message = galaxy.Snapshot.decode(bytes)
    return { metadata: toMetadata(message.metadata), data: message.data }
  },
  encodeOffset (index: number, term: number): Uint8Array {
    return galaxy.LogOffset.encode({ index, term }).finish()
  },
  decodeOffset (bytes: Uint8Array): { index: number, term: number } {
    const message = galaxy.LogOffset.decode(bytes)
    return { index: Number(message.index), term: Number(message.term) }
  },
  encodeMessage,
  decodeMessage
}

const messageTypes: ReadonlySet<string> = new Set<MessageType>(['append', 'appendResponse', 'heartbeat', 'heartbeatResponse', 'vote', 'preVote',
  'voteResponse', 'preVoteResponse', 'snapshot', 'snapshotResponse', 'propose', 'readIndex', 'readIndexResponse', 'timeoutNow'])

/** A Raft message as sent between members (the `RaftMessage` of raft.proto). */
function encodeMessage (message: Message): Uint8Array {
  const wire: galaxy.RaftMessage.$Properties = { type: message.type, from: message.from, to: message.to, term: message.term }
  switch (message.type) {
    case 'append':
      Object.assign(wire, { index: message.index, logTerm: message.logTerm, commit: message.commit, entries: message.entries.map(toWireEntry), quiet: message.quiet === true, durable: message.durable ?? 0 })
      break
    case 'appendResponse':
      Object.assign(wire, { index: message.index, reject: message.reject, rejectHint: message.rejectHint, logTerm: message.logTerm })
      break
    case 'heartbeat':
      Object.assign(wire, { commit: message.commit, heartbeatContext: message.context })
      break
    case 'heartbeatResponse':
      wire.heartbeatContext = message.context
      break
    case 'vote':
    case 'preVote':
      Object.assign(wire, { index: message.index, logTerm: message.logTerm, transfer: message.transfer })
      break
    case 'voteResponse':
    case 'preVoteResponse':
      wire.reject = message.reject
      break
    case 'snapshot':
      Object.assign(wire, { metadata: toWireMetadata(message.metadata), offset: message.offset, chunk: message.chunk, totalBytes: message.totalBytes })
      break
    case 'snapshotResponse':
      Object.assign(wire, { index: message.index, offset: message.offset, reject: message.reject })
      break
    case 'propose':
      wire.entries = message.entries.map(payload => toWireEntry({ ...payload, term: 0, index: 0 } as Entry))
      break
    case 'readIndex':
      wire.readContext = message.context
      break
    case 'readIndexResponse':
      Object.assign(wire, { index: message.index, readContext: message.context })
      break
    case 'timeoutNow':
      break
  }
  return galaxy.RaftMessage.encode(wire).finish()
}

/** Decodes and checks a Raft message from the network; anything malformed throws `DecodeError`. */
function decodeMessage (bytes: Uint8Array): Message {
  let wire: galaxy.RaftMessage
  try {
    wire = galaxy.RaftMessage.decode(bytes)
  } catch (error) {
    throw new DecodeError('malformed raft message', { cause: error })
  }
  if (!messageTypes.has(wire.type)) throw new DecodeError(`unknown raft message type "${wire.type.slice(0, 32)}"`)
  if (!isNodeId(wire.from) || !isNodeId(wire.to)) throw new DecodeError('raft message without valid from/to')
  const base = { from: wire.from as NodeId, to: wire.to as NodeId, term: safeNumber(wire.term) }
  const type = wire.type as MessageType
  switch (type) {
    case 'append': {
      // 0 on the wire: the leader said nothing of its disk.
      const durable = safeNumber(wire.durable)
      return { ...base, type, index: safeNumber(wire.index), logTerm: safeNumber(wire.logTerm), commit: safeNumber(wire.commit), entries: wire.entries.map(fromWireEntry), ...(wire.quiet ? { quiet: true } : {}), ...(durable > 0 ? { durable } : {}) }
    }
    case 'appendResponse':
      return { ...base, type, index: safeNumber(wire.index), reject: wire.reject, rejectHint: safeNumber(wire.rejectHint), logTerm: safeNumber(wire.logTerm) }
    case 'heartbeat':
      return { ...base, type, commit: safeNumber(wire.commit), context: safeNumber(wire.heartbeatContext) }
    case 'heartbeatResponse':
      return { ...base, type, context: safeNumber(wire.heartbeatContext) }
    case 'vote':
    case 'preVote':
      return { ...base, type, index: safeNumber(wire.index), logTerm: safeNumber(wire.logTerm), transfer: wire.transfer }
    case 'voteResponse':
    case 'preVoteResponse':
      return { ...base, type, reject: wire.reject }
    case 'snapshot':
      if (wire.metadata == null) throw new DecodeError('snapshot message without metadata')
      return { ...base, type, metadata: checkedMetadata(wire.metadata), offset: safeNumber(wire.offset), chunk: wire.chunk, totalBytes: safeNumber(wire.totalBytes) }
    case 'snapshotResponse':
      return { ...base, type, index: safeNumber(wire.index), offset: safeNumber(wire.offset), reject: wire.reject }
    case 'propose':
      return { ...base, type, entries: wire.entries.map(entry => toPayload(fromWireEntry(entry))) }
    case 'readIndex':
      return { ...base, type, context: wire.readContext }
    case 'readIndexResponse':
      return { ...base, type, index: safeNumber(wire.index), context: wire.readContext }
    case 'timeoutNow':
      return { ...base, type }
  }
}

function toWireEntry (entry: Entry): galaxy.Entry.$Properties {
  return entry.type === 'normal'
    ? { term: entry.term, index: entry.index, data: entry.data }
    : { term: entry.term, index: entry.index, change: entry.change }
}

function fromWireEntry (wire: galaxy.Entry.$Properties): Entry {
  const term = safeNumber(wire.term)
  const index = safeNumber(wire.index)
  if (wire.change != null) {
    const { type, node } = wire.change
    if (typeof type !== 'string' || !changeTypes.has(type) || !isNodeId(node)) throw new DecodeError('malformed conf change')
    return { term, index, type: 'confChange', change: { type: type as ConfChange['type'], node: node as NodeId } }
  }
  return { term, index, type: 'normal', data: wire.data ?? new Uint8Array(0) }
}

function toPayload (entry: Entry): EntryPayload {
  return entry.type === 'normal' ? { type: 'normal', data: entry.data } : { type: 'confChange', change: entry.change }
}

function toWireMetadata (metadata: SnapshotMetadata): galaxy.SnapshotMetadata.$Properties {
  return { index: metadata.index, term: metadata.term, conf: { voters: [...metadata.conf.voters], learners: [...metadata.conf.learners] } }
}

function checkedMetadata (wire: galaxy.SnapshotMetadata.$Properties): SnapshotMetadata {
  const metadata = toMetadata(wire)
  if (![...metadata.conf.voters, ...metadata.conf.learners].every(isNodeId)) throw new DecodeError('malformed snapshot membership')
  return { ...metadata, index: safeNumber(metadata.index), term: safeNumber(metadata.term) }
}

/** A node id as the network may carry it: the rules of `parseNodeId`. */
function isNodeId (text: unknown): boolean {
  return typeof text === 'string' && parseNodeId(text).ok
}

/** Protobuf 64-bit numbers arrive as number or Long; anything at or past 2^53 is refused. */
function safeNumber (value: number | { toNumber(): number } | null | undefined): number {
  const number = value == null ? 0 : typeof value === 'number' ? value : value.toNumber()
  if (!Number.isSafeInteger(number) || number < 0) throw new DecodeError('a raft number is out of range')
  return number
}
