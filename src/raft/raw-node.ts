import { assert } from '../lib/assert.js'
import type { NodeId } from '../lib/ids.js'
import type { RaftConfig } from './config.js'
import { hup } from './election.js'
import { isForwarded, mergeForwarded } from './forwarded.js'
import { Raft, type Acceptance } from './raft.js'
import type { RaftStorage } from './storage.js'
import type { ConfChange, ConfState, Entry, HardState, Message, ReadState, Role, Snapshot, SoftState } from './types.js'

/**
 * Everything the application must do after the core moved. The contract, in this order:
 * 0. `earlyMessages` may be sent at once, before the write (or with `messages`); so may what
 *    `takeForwarded` hands out at any time, even while a Ready is being carried out;
 * 1. persist `snapshot`, `entries` (replacing any conflicting tail) and `hardState` — durably
 *    (fsync) when `mustSync` — in one atomic write;
 * 2. only then send `messages`;
 * 3. apply `snapshot`, then `committedEntries` (calling `applyConfChange` for conf changes), and
 *    serve `readStates` once applied reaches their index. Committed entries this node had
 *    persisted before this Ready are durable on a quorum: they may be applied while the write of
 *    step 1 syncs (not those in `entries`: a leader counts its own copy before it is durable);
 * 4. call `advance` with this Ready.
 */
export interface Ready {
  /** Present when leader or role changed. */
  readonly softState?: SoftState | undefined
  /** Present when term, vote or commit changed. */
  readonly hardState?: HardState | undefined
  readonly entries: readonly Entry[]
  readonly snapshot?: Snapshot | undefined
  readonly committedEntries: readonly Entry[]
  /**
   * Messages that promise nothing about this Ready's write, so they may leave before it: a settled
   * leader's (its term and vote already durable), so that followers write in parallel (Raft thesis
   * §10.2.1), their commit capped at what the leader's disk already holds; and on any node the
   * proposals and reads it forwards to its leader (`takeForwarded`).
   */
  readonly earlyMessages: readonly Message[]
  /** Messages that may leave only once the write is durable. */
  readonly messages: readonly Message[]
  readonly readStates: readonly ReadState[]
  /** Term, vote or entries changed: the write must reach stable storage before anything is sent. */
  readonly mustSync: boolean
}

/** What a node can say about itself, for `galaxy status` and for tests. */
export interface RaftStatus {
  readonly id: NodeId
  readonly term: number
  readonly vote: NodeId | null
  readonly commit: number
  readonly applied: number
  readonly lastIndex: number
  readonly leader: NodeId | null
  readonly role: Role
  readonly conf: ConfState
  readonly leadTransferee: NodeId | null
  /** The leader's view of each member; empty on other nodes. */
  readonly progress: Readonly<Record<string, { readonly match: number, readonly next: number, readonly state: string }>>
}

/**
 * The application's handle on a Raft core (after etcd-raft's RawNode): feed it time, messages and
 * requests; take a `Ready`, carry it out, `advance`. Synchronous and deterministic: it performs no
 * I/O, reads no clock and draws randomness only from the injected generator.
 */
export class RawNode {
  private readonly raft: Raft
  private prevSoftState: SoftState
  private prevHardState: HardState
  private outstanding: Ready | undefined

  constructor (config: RaftConfig, storage: RaftStorage) {
    this.raft = new Raft(config, storage)
    this.prevSoftState = this.softState()
    this.prevHardState = this.hardState()
  }

  /** Advances logical time by one tick. */
  tick (): void {
    this.raft.tick()
  }

  /** Hands the core a message from another node; messages addressed to someone else are dropped. */
  step (message: Message): void {
    if (message.to !== this.raft.id) return
    this.raft.step(message)
  }

  /**
   * Says that `peer`'s process is gone (the transport lost its connection and could not make a
   * new one). If it was this follower's leader, the follower campaigns within a few ticks.
   */
  reportPeerGone (peer: NodeId): void {
    this.raft.peerGone(peer)
  }

  /** Starts an election now (pre-vote first when enabled), as an election timeout would. */
  campaign (): void {
    hup(this.raft, false)
  }

  /** Proposes one or more commands; a follower forwards them to its leader. Not a promise to commit. */
  propose (data: Uint8Array | readonly Uint8Array[]): Acceptance {
    const items = data instanceof Uint8Array ? [data] : data
    return this.raft.propose(items.map(item => ({ type: 'normal' as const, data: item })))
  }

  /** Proposes a membership change; one at a time. */
  proposeConfChange (change: ConfChange): Acceptance {
    return this.raft.propose([{ type: 'confChange', change }])
  }

  /** Asks for a linearizable read; the answer is a `ReadState` with this `context` in a later Ready. */
  readIndex (context: string): Acceptance {
    return this.raft.readIndex(context)
  }

  /** Hands leadership to `to`; only on the leader. */
  transferLeadership (to: NodeId): Acceptance {
    return this.raft.transferLeadership(to)
  }

  /**
   * Applies a committed membership change; call it with the entry when applying it. Returns the
   * membership now in force (a change already covered by an installed snapshot changes nothing).
   */
  applyConfChange (entry: Extract<Entry, { type: 'confChange' }>): ConfState {
    return this.raft.applyConfChange(entry.change, entry.index)
  }

  /** Term, role and leader only: cheap enough to ask after every step. */
  basicStatus (): { readonly term: number, readonly role: Role, readonly leader: NodeId | null, readonly commit: number } {
    return { term: this.raft.term, role: this.raft.role, leader: this.raft.lead, commit: this.raft.log.committed }
  }

  /** The index of the last entry in the log. */
  lastIndex (): number {
    return this.raft.log.lastIndex()
  }

  status (): RaftStatus {
    const r = this.raft
    const progress: Record<string, { match: number, next: number, state: string }> = {}
    if (r.role === 'leader') {
      for (const [id, p] of r.tracker.progress) progress[id] = { match: p.match, next: p.next, state: p.state }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      leader: r.lead,
      role: r.role,
      conf: r.tracker.confState(),
      leadTransferee: r.leadTransferee,
      progress
    }
  }

  /** The membership in force (cheap, unlike `status`). */
  confState (): ConfState {
    return this.raft.tracker.confState()
  }

  hasReady (): boolean {
    const r = this.raft
    return r.broadcastPending ||
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.log.unstableEntries().length > 0 ||
      r.log.pendingSnapshot() !== undefined ||
      r.log.hasNextCommittedEntries() ||
      !sameSoftState(this.softState(), this.prevSoftState) ||
      !sameHardState(this.hardState(), this.prevHardState)
  }

  /**
   * Takes the proposals and reads this node forwards to its leader (`isForwarded`), proposals to
   * the same leader joined into one message. Callable at any time: a follower's requests need not
   * wait for its disk, nor for a Ready in progress, to reach the leader.
   */
  takeForwarded (): Message[] {
    const r = this.raft
    if (!r.msgs.some(isForwarded)) return []
    const forwarded = r.msgs.filter(isForwarded)
    r.msgs = r.msgs.filter(message => !isForwarded(message))
    return mergeForwarded(forwarded, r.config.maxSizePerMsgBytes)
  }

  /** Takes what is ready. Carry it out per the `Ready` contract, then `advance`; one Ready at a time. */
  ready (): Ready {
    assert(this.outstanding === undefined, 'ready() called again before advance()')
    const r = this.raft
    r.flushBroadcast()
    const forwarded = this.takeForwarded()
    const softState = this.softState()
    const hardState = this.hardState()
    const softChanged = !sameSoftState(softState, this.prevSoftState)
    const hardChanged = !sameHardState(hardState, this.prevHardState)
    const entries = r.log.unstableEntries().slice()
    const termOrVoteChanged = hardState.term !== this.prevHardState.term || hardState.vote !== this.prevHardState.vote
    const early = r.role === 'leader' && !softChanged && !termOrVoteChanged && r.log.pendingSnapshot() === undefined
    const ready: Ready = {
      softState: softChanged ? softState : undefined,
      hardState: hardChanged ? hardState : undefined,
      entries,
      snapshot: r.log.pendingSnapshot(),
      committedEntries: r.log.nextCommittedEntries(r.config.maxCommittedBytesPerReady),
      earlyMessages: early ? [...forwarded, ...capCommit(r.msgs, (entries[0]?.index ?? r.log.lastIndex() + 1) - 1)] : forwarded,
      messages: early ? [] : r.msgs,
      readStates: r.readStates,
      // A snapshot is acknowledged once installed, so it must be durable like entries.
      mustSync: entries.length > 0 || r.log.pendingSnapshot() !== undefined || termOrVoteChanged
    }
    r.msgs = []
    r.readStates = []
    this.prevSoftState = softState
    this.prevHardState = hardState
    this.outstanding = ready
    return ready
  }

  /** Says that `ready` was persisted, sent and applied. */
  advance (ready: Ready): void {
    assert(this.outstanding === ready, 'advance() with a Ready other than the last one taken')
    this.outstanding = undefined
    const log = this.raft.log
    if (ready.snapshot !== undefined) {
      log.stableSnapshotTo(ready.snapshot.metadata.index)
      log.appliedTo(ready.snapshot.metadata.index)
    }
    const lastEntry = ready.entries[ready.entries.length - 1]
    if (lastEntry !== undefined) {
      log.stableTo(lastEntry.index, lastEntry.term)
      this.raft.entriesPersisted()
    }
    const lastCommitted = ready.committedEntries[ready.committedEntries.length - 1]
    if (lastCommitted !== undefined) {
      log.appliedTo(lastCommitted.index)
      this.raft.reduceUncommittedBytes(ready.committedEntries)
    }
  }

  private softState (): SoftState {
    return { leader: this.raft.lead, role: this.raft.role }
  }

  private hardState (): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed }
  }
}

/**
 * Caps the commit index that messages carry at `durableIndex`. Only with a single voter can a
 * leader's commit pass its disk (its own append is the quorum); a learner told that commit could
 * apply an entry the leader then loses in a crash.
 */
export function capCommit (messages: readonly Message[], durableIndex: number): Message[] {
  return messages.map(message => 'commit' in message && message.commit > durableIndex ? { ...message, commit: durableIndex } : message)
}

function sameSoftState (a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role
}

function sameHardState (a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit
}

/**
 * Whether a Ready's committed entries may be applied while its write is still syncing (contract
 * step 3): they must all be entries this node persisted in earlier Readies — a leader counts its
 * own copy of new entries towards the quorum before it is durable — and the Ready may carry no
 * snapshot, membership change or role change, which go after the write.
 */
export function appliesDuringWrite (ready: Ready): boolean {
  const lastCommitted = ready.committedEntries[ready.committedEntries.length - 1]
  const firstWritten = ready.entries[0]
  return lastCommitted !== undefined && ready.snapshot === undefined && ready.softState === undefined &&
    (firstWritten === undefined || lastCommitted.index < firstWritten.index) &&
    ready.committedEntries.every(entry => entry.type !== 'confChange')
}
