import type { Raft } from './raft.js'
import type { Message, Snapshot, SnapshotMetadata } from './types.js'

/**
 * A snapshot arriving in chunks. Chunks only add up if they come from the same sender in the same
 * term for the same snapshot: two leaders may encode the same state differently.
 */
export interface IncomingSnapshot {
  readonly from: string
  readonly term: number
  readonly metadata: SnapshotMetadata
  readonly totalBytes: number
  readonly chunks: Uint8Array[]
  received: number
}

/** A message only a leader sends: an append, a heartbeat or a snapshot chunk. */
export type LeaderMessage = Extract<Message, { type: 'append' | 'heartbeat' | 'snapshot' }>

/** Handles a message from the leader of our term, as a follower. */
export function handleLeaderMessage (r: Raft, m: LeaderMessage): void {
  switch (m.type) {
    case 'append': return handleAppend(r, m)
    case 'heartbeat': return handleHeartbeat(r, m)
    case 'snapshot': return handleSnapshotChunk(r, m)
  }
}

/** AppendEntries on a follower (§5.3): accept and acknowledge, or reject with a hint where our logs may agree. */
export function handleAppend (r: Raft, m: Extract<Message, { type: 'append' }>): void {
  // A statement about the leader's log, true whether or not this append fits ours.
  if (m.durable !== undefined && m.durable > r.leaderDurable) r.leaderDurable = m.durable
  const quiet = m.quiet === true && m.entries.length === 0
  if (m.index < r.log.committed) {
    // Everything up to our commit index is known to match; say so and let the leader move on
    // (a quiet notice at what the leader knows we hold needs no answer).
    if (!quiet) r.send({ type: 'appendResponse', from: r.id, to: m.from, term: r.term, index: r.log.committed, reject: false, rejectHint: 0, logTerm: 0 })
    inferCommit(r)
    return
  }
  const lastNewIndex = r.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries)
  if (lastNewIndex !== undefined) {
    if (!quiet) r.send({ type: 'appendResponse', from: r.id, to: m.from, term: r.term, index: lastNewIndex, reject: false, rejectHint: 0, logTerm: 0 })
    inferCommit(r)
    return
  }
  // Our entry at m.index disagrees or is missing. Point the leader at the last index whose term is
  // no later than the one it sent, so it can skip a whole term of mismatches at once.
  const hintIndex = r.log.findConflictByTerm(Math.min(m.index, r.log.lastIndex()), m.logTerm)
  const hintTerm = r.log.term(hintIndex) ?? 0
  r.logger.debug('rejected append', { from: m.from, index: m.index, logTerm: m.logTerm, hintIndex, hintTerm })
  r.send({ type: 'appendResponse', from: r.id, to: m.from, term: r.term, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm })
}

/**
 * A follower's own use of the commit rule (§5.4.2), when its leader tells it how far the leader's
 * disk holds the log — which it does only to a voter that forms a majority with it, under a
 * membership with no change pending (`durableFor`): an entry of this term on the leader's disk
 * and on ours is on a quorum, so it and everything before it is committed, as the leader will
 * conclude once our answer reaches it. An entry of this term can only have come from this term's
 * leader, so our log matches the leader's up to it (§5.3). Call it when either side's disk moves.
 */
export function inferCommit (r: Raft): void {
  if (r.role !== 'follower' || r.leaderDurable <= r.log.committed) return
  const index = Math.min(r.leaderDurable, r.log.stableIndex())
  if (index > r.log.committed && r.log.term(index) === r.term) r.log.commitTo(index)
}

/** A heartbeat moves the commit index (the leader caps it at what we hold) and confirms reads. */
export function handleHeartbeat (r: Raft, m: Extract<Message, { type: 'heartbeat' }>): void {
  r.log.commitTo(Math.min(m.commit, r.log.lastIndex()))
  r.send({ type: 'heartbeatResponse', from: r.id, to: m.from, term: r.term, context: m.context })
}

/**
 * One chunk of an InstallSnapshot. Chunks must arrive in order; each answer says how many bytes we
 * hold, so a lost or repeated chunk, or a restart mid-transfer, resumes from the right place.
 */
export function handleSnapshotChunk (r: Raft, m: Extract<Message, { type: 'snapshot' }>): void {
  const { metadata } = m
  if (metadata.index <= r.log.committed) {
    r.send({ type: 'appendResponse', from: r.id, to: m.from, term: r.term, index: r.log.committed, reject: false, rejectHint: 0, logTerm: 0 })
    return
  }
  let incoming = r.incomingSnapshot
  const sameTransfer = incoming !== undefined && incoming.from === m.from && incoming.term === m.term &&
    incoming.metadata.index === metadata.index && incoming.metadata.term === metadata.term && incoming.totalBytes === m.totalBytes
  if (!sameTransfer) {
    if (m.offset !== 0) {
      answerChunk(r, m, 0)
      return
    }
    incoming = { from: m.from, term: m.term, metadata, totalBytes: m.totalBytes, chunks: [], received: 0 }
    r.incomingSnapshot = incoming
  }
  if (incoming === undefined) return
  if (m.offset !== incoming.received || m.offset + m.chunk.byteLength > incoming.totalBytes) {
    answerChunk(r, m, incoming.received)
    return
  }
  incoming.chunks.push(m.chunk.slice())
  incoming.received += m.chunk.byteLength
  if (incoming.received < incoming.totalBytes) {
    answerChunk(r, m, incoming.received)
    return
  }
  r.incomingSnapshot = undefined
  const data = new Uint8Array(incoming.totalBytes)
  let offset = 0
  for (const chunk of incoming.chunks) {
    data.set(chunk, offset)
    offset += chunk.byteLength
  }
  answerChunk(r, m, incoming.totalBytes)
  if (restore(r, { metadata, data })) {
    r.logger.info('restored snapshot', { index: metadata.index, term: metadata.term, from: m.from })
    r.send({ type: 'appendResponse', from: r.id, to: m.from, term: r.term, index: r.log.lastIndex(), reject: false, rejectHint: 0, logTerm: 0 })
  } else {
    r.send({ type: 'appendResponse', from: r.id, to: m.from, term: r.term, index: r.log.committed, reject: false, rejectHint: 0, logTerm: 0 })
  }
}

function answerChunk (r: Raft, m: Extract<Message, { type: 'snapshot' }>, offset: number): void {
  r.send({ type: 'snapshotResponse', from: r.id, to: m.from, term: r.term, index: m.metadata.index, offset, reject: false })
}

/**
 * Installs a complete snapshot (thesis §5.3), unless our log already holds its last entry, in which
 * case it only moves the commit index. The snapshot's membership may not include us yet: a
 * learner added after the leader's last snapshot learns of itself from the entries that follow.
 */
function restore (r: Raft, snapshot: Snapshot): boolean {
  const { index, term, conf } = snapshot.metadata
  if (index <= r.log.committed) return false
  if (r.log.matchTerm(index, term)) {
    r.log.commitTo(index)
    return false
  }
  r.log.restore(snapshot)
  r.restoreMembership(conf, index)
  return true
}
