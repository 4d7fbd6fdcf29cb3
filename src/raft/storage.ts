import { assert } from '../lib/assert.js'
import { entrySizeBytes, type ConfState, type Entry, type HardState, type Snapshot, type SnapshotMetadata } from './types.js'

/** The state a node restarts from. */
export interface InitialState {
  readonly hardState: HardState
  /** The membership as of the latest snapshot; later conf changes are re-applied from the log. */
  readonly conf: ConfState
}

/** The parts of a `Ready` that must be durable before its messages are sent. */
export interface DurableWrite {
  readonly hardState?: HardState | undefined
  readonly entries: readonly Entry[]
  readonly snapshot?: Snapshot | undefined
}

/**
 * The stable log as the consensus core reads it. Reads are synchronous: implementations keep the
 * uncompacted log in memory and make it durable on their own (etcd-raft's Storage contract).
 * Index `firstIndex() - 1` is the snapshot's, whose term is still known.
 */
export interface RaftStorage {
  initialState(): InitialState
  /** Entries in [lo, hi), at most `maxBytes` of them but always at least one. Requires firstIndex ≤ lo < hi ≤ lastIndex + 1. */
  entries(lo: number, hi: number, maxBytes: number): Entry[]
  /** The term of the entry at `index`, for firstIndex − 1 ≤ index ≤ lastIndex. */
  term(index: number): number
  firstIndex(): number
  lastIndex(): number
  /** The latest snapshot's index, term and membership. */
  snapshotMetadata(): SnapshotMetadata
  /**
   * The latest snapshot with its data, which only a leader sending it to a follower asks for; or
   * undefined when the data is not at hand now (a storage that keeps it on disk is reading it): the
   * core asks again later (etcd-raft's `ErrSnapshotTemporarilyUnavailable`).
   */
  snapshot(): Snapshot | undefined
}

/** The empty membership of a node that has not joined a cluster yet. */
const emptyConf: ConfState = { voters: [], learners: [] }

/** The snapshot every log starts from: index 0, term 0, no members. */
export const emptySnapshot: Snapshot = { metadata: { index: 0, term: 0, conf: emptyConf }, data: new Uint8Array() }

/**
 * A storage that keeps everything in memory: the model of what is durable in the simulator, and the
 * in-memory half of the level-backed storage. `save` applies one Ready's durable part in the order
 * the contract requires: snapshot, then entries (replacing any conflicting tail), then hard state.
 *
 * The log starts after its compaction point, which may trail the latest snapshot so that slow
 * followers can still be sent entries instead of a whole snapshot.
 */
export class MemoryStorage implements RaftStorage {
  private hardState: HardState = { term: 0, vote: null, commit: 0 }
  private latest: Snapshot = emptySnapshot
  /** The index and term of the last compacted entry; `log[i]` has index `offsetIndex + 1 + i`. */
  private offsetIndex = 0
  private offsetTerm = 0
  private log: Entry[] = []

  /** A storage holding exactly what a durable store loaded: for the level-backed storage on restart. */
  static restore (state: { hardState: HardState, snapshot: Snapshot, offsetIndex: number, offsetTerm: number, entries: readonly Entry[] }): MemoryStorage {
    const storage = new MemoryStorage()
    assert(state.offsetIndex <= state.snapshot.metadata.index, 'the log starts after the snapshot', { offset: state.offsetIndex, snapshot: state.snapshot.metadata.index })
    state.entries.forEach((entry, i) => { assert(entry.index === state.offsetIndex + 1 + i, 'stored entries have a gap', { index: entry.index, expected: state.offsetIndex + 1 + i }) })
    storage.hardState = state.hardState
    storage.latest = state.snapshot
    storage.offsetIndex = state.offsetIndex
    storage.offsetTerm = state.offsetTerm
    storage.log = state.entries.slice()
    return storage
  }

  /** Where the stored log begins: the last compacted entry. */
  offset (): { index: number, term: number } {
    return { index: this.offsetIndex, term: this.offsetTerm }
  }

  initialState (): InitialState {
    return { hardState: this.hardState, conf: this.latest.metadata.conf }
  }

  entries (lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo >= this.firstIndex() && hi <= this.lastIndex() + 1 && lo < hi, 'entries out of range', { lo, hi, first: this.firstIndex(), last: this.lastIndex() })
    return limitBytes(this.log.slice(lo - this.offsetIndex - 1, hi - this.offsetIndex - 1), maxBytes)
  }

  term (index: number): number {
    if (index === this.offsetIndex) return this.offsetTerm
    assert(index > this.offsetIndex && index <= this.lastIndex(), 'term out of range', { index, first: this.firstIndex(), last: this.lastIndex() })
    return (this.log[index - this.offsetIndex - 1] as Entry).term
  }

  firstIndex (): number {
    return this.offsetIndex + 1
  }

  lastIndex (): number {
    return this.offsetIndex + this.log.length
  }

  snapshotMetadata (): SnapshotMetadata {
    return this.latest.metadata
  }

  snapshot (): Snapshot {
    return this.latest
  }

  /** The hard state last saved. */
  savedHardState (): HardState {
    return this.hardState
  }

  /** Makes one Ready's durable part durable (here: simply kept). */
  save (write: DurableWrite): void {
    if (write.snapshot !== undefined) this.applySnapshot(write.snapshot)
    this.append(write.entries)
    if (write.hardState !== undefined) this.hardState = write.hardState
  }

  /** Appends entries, first dropping any existing entries from the first new index on. */
  append (entries: readonly Entry[]): void {
    const first = entries[0]
    if (first === undefined) return
    assert(first.index <= this.lastIndex() + 1, 'append leaves a gap', { first: first.index, last: this.lastIndex() })
    // Entries at or below the compaction point are already covered by a snapshot.
    const fresh = first.index > this.offsetIndex ? entries : entries.filter(entry => entry.index > this.offsetIndex)
    if (fresh.length === 0) return
    // Truncate in place (usually nothing to truncate) and append: no copy of the whole log.
    this.log.length = (fresh[0] as Entry).index - this.offsetIndex - 1
    for (const entry of fresh) this.log.push(entry)
  }

  /** Replaces the whole log with a snapshot received from the leader (the core installs one only when its log disagrees). */
  applySnapshot (snapshot: Snapshot): void {
    if (snapshot.metadata.index <= this.latest.metadata.index) return
    this.latest = snapshot
    this.offsetIndex = snapshot.metadata.index
    this.offsetTerm = snapshot.metadata.term
    this.log = []
  }

  /** Records the application's state at `index`, which it has applied, as the latest snapshot. */
  createSnapshot (index: number, conf: ConfState, data: Uint8Array): Snapshot {
    assert(index >= this.latest.metadata.index && index <= this.lastIndex() && index >= this.offsetIndex,
      'snapshot index out of range', { index, snapshot: this.latest.metadata.index, last: this.lastIndex() })
    if (index === this.latest.metadata.index) return this.latest
    this.latest = { metadata: { index, term: this.term(index), conf }, data }
    return this.latest
  }

  /** Drops the log up to `index`, which the latest snapshot must cover. */
  compact (index: number): void {
    if (index <= this.offsetIndex) return
    assert(index <= this.latest.metadata.index, 'compacting past the snapshot would lose entries', { index, snapshot: this.latest.metadata.index })
    const term = this.term(index)
    this.log = this.log.slice(index - this.offsetIndex)
    this.offsetIndex = index
    this.offsetTerm = term
  }
}

/** The longest prefix of `entries` within `maxBytes`, but at least one entry. */
export function limitBytes (entries: Entry[], maxBytes: number): Entry[] {
  let total = 0
  for (let i = 0; i < entries.length; i++) {
    total += entrySizeBytes(entries[i] as Entry)
    if (total > maxBytes && i > 0) return entries.slice(0, i)
  }
  return entries
}

