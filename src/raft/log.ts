import { assert } from '../lib/assert.js'
import { limitBytes, type RaftStorage } from './storage.js'
import type { Entry, Snapshot } from './types.js'

/**
 * The Raft log as the core sees it: what the storage holds durably, followed by an unstable part
 * (entries, or a snapshot received from the leader) that the application has not persisted yet.
 * Indexes: `committed` entries are known to be on a quorum; `applied` ones were handed to the
 * state machine. Invariant: applied ≤ committed ≤ lastIndex.
 */
export class RaftLog {
  committed: number
  applied: number
  /** A snapshot received from the leader, waiting to be persisted. */
  private unstableSnapshot: Snapshot | undefined
  /** Entries not yet persisted; `unstableEntries[i]` has index `unstableOffset + i`. */
  private unstable: Entry[] = []
  private unstableOffset: number

  constructor (readonly storage: RaftStorage, applied: number) {
    const { hardState } = storage.initialState()
    this.unstableOffset = storage.lastIndex() + 1
    this.committed = hardState.commit
    this.applied = Math.max(applied, storage.firstIndex() - 1)
    assert(this.committed >= storage.firstIndex() - 1 && this.committed <= storage.lastIndex(), 'commit index outside the stored log',
      { commit: this.committed, first: storage.firstIndex(), last: storage.lastIndex() })
    assert(this.applied <= this.committed, 'applied past commit on restart', { applied: this.applied, commit: this.committed })
  }

  firstIndex (): number {
    return this.unstableSnapshot !== undefined ? this.unstableSnapshot.metadata.index + 1 : this.storage.firstIndex()
  }

  lastIndex (): number {
    if (this.unstable.length > 0) return this.unstableOffset + this.unstable.length - 1
    if (this.unstableSnapshot !== undefined) return this.unstableSnapshot.metadata.index
    return this.storage.lastIndex()
  }

  lastTerm (): number {
    return this.term(this.lastIndex()) as number
  }

  /** The term of the entry at `index`, or `undefined` when it is compacted away or beyond the log. */
  term (index: number): number | undefined {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined
    if (index >= this.unstableOffset && this.unstable.length > 0) return (this.unstable[index - this.unstableOffset] as Entry).term
    if (this.unstableSnapshot !== undefined && index === this.unstableSnapshot.metadata.index) return this.unstableSnapshot.metadata.term
    return this.storage.term(index)
  }

  matchTerm (index: number, term: number): boolean {
    return this.term(index) === term
  }

  /**
   * The election restriction (§5.4.1): a candidate's log is at least as up to date as ours if its
   * last term is higher, or equal with an index at least ours.
   */
  isUpToDate (lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm() || (lastTerm === this.lastTerm() && lastIndex >= this.lastIndex())
  }

  /**
   * The follower side of AppendEntries (§5.3): if our entry at `prevIndex` has `prevTerm`, append
   * `entries` (truncating the first conflicting entry and everything after it) and commit up to
   * min(leaderCommit, last new index). Returns the last index now known to match the leader, or
   * `undefined` when the consistency check fails.
   */
  maybeAppend (prevIndex: number, prevTerm: number, leaderCommit: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined
    const lastNewIndex = prevIndex + entries.length
    const conflict = this.findConflict(entries)
    if (conflict !== 0) {
      assert(conflict > this.committed, 'a committed entry conflicts with the leader', { conflict, committed: this.committed })
      this.append(entries.slice(conflict - prevIndex - 1))
    }
    this.commitTo(Math.min(leaderCommit, lastNewIndex))
    return lastNewIndex
  }

  /** The index of the first entry that is new or disagrees with ours; 0 when all of them are already here. */
  findConflict (entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index
    }
    return 0
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `term`: where a follower's log can agree with a
   * leader that has `term` at `index`. Used to skip a whole term of mismatches per round trip.
   */
  findConflictByTerm (index: number, term: number): number {
    let candidate = Math.min(index, this.lastIndex())
    for (;;) {
      const found = this.term(candidate)
      if (found === undefined || found <= term) return candidate
      candidate--
    }
  }

  /** Appends entries to the unstable tail, replacing whatever they overlap. Never touches committed entries. */
  append (entries: readonly Entry[]): number {
    const first = entries[0]
    if (first === undefined) return this.lastIndex()
    assert(first.index > this.committed, 'append would overwrite committed entries', { first: first.index, committed: this.committed })
    assert(first.index <= this.lastIndex() + 1, 'append leaves a gap', { first: first.index, last: this.lastIndex() })
    if (first.index === this.unstableOffset + this.unstable.length) {
      this.unstable.push(...entries)
    } else if (first.index <= this.unstableOffset) {
      // Replaces the whole unstable tail, and shadows stored entries from first.index on.
      this.unstableOffset = first.index
      this.unstable = entries.slice()
    } else {
      this.unstable = this.unstable.slice(0, first.index - this.unstableOffset).concat(entries)
    }
    return this.lastIndex()
  }

  /** Entries in [lo, hi), at most `maxBytes` but at least one; `undefined` when lo is compacted away. */
  slice (lo: number, hi: number, maxBytes: number): Entry[] | undefined {
    if (lo >= hi) return []
    if (lo < this.firstIndex()) return undefined
    assert(hi <= this.lastIndex() + 1, 'slice beyond the log', { lo, hi, last: this.lastIndex() })
    let result: Entry[] = []
    if (lo < this.unstableOffset) {
      const storedHi = Math.min(hi, this.unstableOffset, this.storage.lastIndex() + 1)
      result = this.storage.entries(lo, storedHi, maxBytes)
      if (result.length < storedHi - lo) return result
    }
    if (hi > this.unstableOffset) {
      const from = Math.max(lo, this.unstableOffset)
      result = result.concat(this.unstable.slice(from - this.unstableOffset, hi - this.unstableOffset))
    }
    return limitBytes(result, maxBytes)
  }

  /** Entries not yet handed to the application for persistence. */
  unstableEntries (): readonly Entry[] {
    return this.unstable
  }

  /** The snapshot waiting to be persisted, if any. */
  pendingSnapshot (): Snapshot | undefined {
    return this.unstableSnapshot
  }

  /** Committed entries not yet applied, at most `maxBytes` (at least one). */
  nextCommittedEntries (maxBytes: number): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex())
    if (this.committed < lo) return []
    return this.slice(lo, this.committed + 1, maxBytes) ?? []
  }

  hasNextCommittedEntries (): boolean {
    return this.committed > Math.max(this.applied, this.firstIndex() - 1)
  }

  /** Advances the commit index; it never moves back. */
  commitTo (index: number): void {
    if (index <= this.committed) return
    assert(index <= this.lastIndex(), 'commit beyond the log', { index, last: this.lastIndex() })
    this.committed = index
  }

  /**
   * The leader's commit rule (§5.4.2, Figure 8): advance to `quorumIndex` only if that entry is from
   * the leader's current term; older entries are committed indirectly by it.
   */
  maybeCommit (quorumIndex: number, currentTerm: number): boolean {
    if (quorumIndex > this.committed && this.term(quorumIndex) === currentTerm) {
      this.commitTo(quorumIndex)
      return true
    }
    return false
  }

  appliedTo (index: number): void {
    if (index === 0) return
    assert(index <= this.committed && index >= this.applied, 'applied index out of range', { index, applied: this.applied, committed: this.committed })
    this.applied = index
  }

  /**
   * The last index of the log that is on this node's disk: the stored entries the unstable tail
   * does not replace. While a received snapshot waits to be persisted, only the stored snapshot's
   * index is certain.
   */
  stableIndex (): number {
    if (this.unstableSnapshot !== undefined) return this.storage.snapshotMetadata().index
    return Math.min(this.storage.lastIndex(), this.unstableOffset - 1)
  }

  /** The entries up to (index, term) are now durable; drop them from the unstable tail. */
  stableTo (index: number, term: number): void {
    if (index < this.unstableOffset || this.unstable.length === 0) return
    const position = index - this.unstableOffset
    if (position >= this.unstable.length || (this.unstable[position] as Entry).term !== term) return
    this.unstable = this.unstable.slice(position + 1)
    this.unstableOffset = index + 1
  }

  /** The snapshot at `index` is now durable. */
  stableSnapshotTo (index: number): void {
    if (this.unstableSnapshot?.metadata.index === index) this.unstableSnapshot = undefined
  }

  /** Replaces the log with a snapshot from the leader; everything up to it counts as committed. */
  restore (snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index
    this.unstableSnapshot = snapshot
    this.unstable = []
    this.unstableOffset = snapshot.metadata.index + 1
  }

  /** The latest snapshot: one received and not yet persisted, else the stored one (undefined while its data is not at hand). */
  snapshot (): Snapshot | undefined {
    return this.unstableSnapshot ?? this.storage.snapshot()
  }
}
