import { assert } from '../lib/assert.js'
import type { NodeId } from '../lib/ids.js'
import { galaxy } from '../proto/gen/galaxy.js'
import type { ConfChange, ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from '../raft/types.js'

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
  }
}
