import { assert } from '../lib/assert.js'
import type { Snapshot } from './types.js'

/**
 * A ring of the appends in flight to one follower, by last index and size, bounded in count and
 * bytes: in replicate state the leader pipelines appends until the window is full.
 */
export class Inflights {
  private readonly indexes: number[] = []
  private readonly sizes: number[] = []
  private bytes = 0

  constructor (private readonly maxCount: number, private readonly maxBytes: number) {}

  add (lastIndex: number, bytes: number): void {
    assert(!this.isFull(), 'inflights overflow', { count: this.indexes.length })
    this.indexes.push(lastIndex)
    this.sizes.push(bytes)
    this.bytes += bytes
  }

  /** Frees every append up to and including `index`: the follower acknowledged it. */
  freeLE (index: number): void {
    while (this.indexes.length > 0 && (this.indexes[0] as number) <= index) {
      this.indexes.shift()
      this.bytes -= this.sizes.shift() as number
    }
  }

  /** Frees the oldest append: its answer may be lost, and a full window would then never drain. */
  freeFirst (): void {
    if (this.indexes.length === 0) return
    this.indexes.shift()
    this.bytes -= this.sizes.shift() as number
  }

  isFull (): boolean {
    return this.indexes.length >= this.maxCount || this.bytes >= this.maxBytes
  }

  count (): number {
    return this.indexes.length
  }

  reset (): void {
    this.indexes.length = 0
    this.sizes.length = 0
    this.bytes = 0
  }
}

/**
 * How a leader replicates to one follower (etcd-raft's progress states):
 * - probe: one append per heartbeat until the follower's log position is found;
 * - replicate: appends pipelined up to the inflight window;
 * - snapshot: a snapshot is being sent in chunks; no appends until it is installed.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot'

/**
 * A snapshot being sent to a follower in chunks, stop-and-wait: the next chunk goes out when the
 * previous one is acknowledged; a chunk is sent again only after an election timeout's worth of
 * heartbeats without progress.
 */
export interface SnapshotTransfer {
  readonly snapshot: Snapshot
  /** Bytes the follower says it holds. */
  ackedBytes: number
  /** Bytes sent so far: a chunk is in flight while this exceeds `ackedBytes`. */
  sentBytes: number
  /** Heartbeat answers since the follower last made progress. */
  stalledHeartbeats: number
}

/** The leader's view of one follower's log. */
export class Progress {
  /** The highest index known to be replicated on the follower. */
  match = 0
  /** The index of the next entry to send. */
  next: number
  state: ProgressState = 'probe'
  /** In probe state: an append was sent and no answer has come since the last heartbeat. */
  probeSent = false
  /** Heard from since the last check-quorum round. */
  recentActive = false
  transfer: SnapshotTransfer | undefined
  readonly inflights: Inflights

  constructor (next: number, maxInflight: number, maxInflightBytes: number, public isLearner: boolean) {
    this.next = next
    this.inflights = new Inflights(maxInflight, maxInflightBytes)
  }

  becomeProbe (): void {
    // After a snapshot, probing starts right after it; otherwise right after what is known to match.
    const snapshotIndex = this.state === 'snapshot' ? (this.transfer?.snapshot.metadata.index ?? 0) : 0
    this.reset('probe')
    this.next = Math.max(this.match + 1, snapshotIndex + 1)
  }

  becomeReplicate (): void {
    this.reset('replicate')
    this.next = this.match + 1
  }

  becomeSnapshot (snapshot: Snapshot): void {
    this.reset('snapshot')
    this.transfer = { snapshot, ackedBytes: 0, sentBytes: 0, stalledHeartbeats: 0 }
  }

  private reset (state: ProgressState): void {
    this.state = state
    this.probeSent = false
    this.transfer = undefined
    this.inflights.reset()
  }

  /** The follower acknowledged entries up to `index`. Returns whether that was news. */
  maybeUpdate (index: number): boolean {
    let updated = false
    if (this.match < index) {
      this.match = index
      updated = true
      this.probeSent = false
    }
    this.next = Math.max(this.next, index + 1)
    return updated
  }

  /** Pipelining: assume the append up to `index` will succeed. */
  optimisticUpdate (index: number): void {
    this.next = index + 1
  }

  /**
   * The follower rejected an append whose previous index was `rejected`; `hint` is the highest index
   * where its log may still match ours. Returns false for a stale rejection.
   */
  maybeDecrTo (rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1, 1)
    this.probeSent = false
    return true
  }

  /** Whether the leader must hold back appends to this follower for now. */
  isPaused (): boolean {
    switch (this.state) {
      case 'probe': return this.probeSent
      case 'replicate': return this.inflights.isFull()
      case 'snapshot': return true
    }
  }
}
