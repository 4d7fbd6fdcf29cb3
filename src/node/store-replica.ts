import { randomBytes } from 'node:crypto'
import { deferred } from '../lib/deferred.js'
import { GalaxyError } from '../lib/errors.js'
import type { NodeId } from '../lib/ids.js'
import type { Logger } from '../lib/logger.js'
import { pacedPause } from '../lib/paced-pause.js'
import type { ConfState, Entry, ReadState, Role, Snapshot, SoftState } from '../raft/types.js'
import { LeaseDeadlines } from '../store/lease-deadlines.js'
import { StoreStateMachine } from '../store/state-machine.js'
import type { LeaseId, SessionCommand, StoreCommand, StoreResult } from '../store/types.js'
import { DecodeError } from './decode-error.js'
import { noteClientWork } from './idle-memory.js'
import type { RaftApplication, RaftDriver } from './raft-driver.js'
import type { LevelRaftStorage } from './raft-storage.js'
import { snapshotDue, snapshotPhase } from './snapshot-schedule.js'
import { storeCodec } from './store-codec.js'

/** The cluster could not answer in time: no leader, a lost quorum, or a timeout. The outcome of a write that timed out is unknown. */
export class ClusterError extends GalaxyError {}

/** Named bounds of the replica. */
export const replicaLimits = {
  /** Commands of this node in flight at once; each holds a session slot. */
  maxInFlight: 1024,
  /** A proposal not applied after this long is proposed again (same session and sequence, so it applies once). */
  retryMs: 2000,
  /** A refused proposal (no leader yet) is tried again after this long. */
  noLeaderRetryMs: 50,
  /**
   * A snapshot is taken every this many applied entries, and the log before it compacted: etcd's
   * default (`--snapshot-count`). Each snapshot encodes the whole state; at 10,000 the encoding
   * (28 MiB at 60,000 keys, every member at once) doubled the p99 of 64 clients. Members take
   * theirs at different indexes (snapshot-schedule.ts).
   */
  snapshotEveryEntries: 100_000,
  /**
   * Keys, events, leases, locks and sessions encoded at once when snapshotting: about 30 KiB and
   * 0.1 ms at 256-byte values. A put that comes in while a part is encoded waits for it, so the
   * parts are short: at 1,000 items a part took 0.8 ms at the median and 2.2 ms at the 90th
   * percentile alone, 2–5 ms on a loaded member, and one client on the leader made 19–33 % fewer
   * puts while it encoded than before and after; at 100 (with 128 KiB copy steps, and rest owed
   * by short parts paid, `pacedPause`), 10 % fewer to 5 % more (two clusters of each, 5–6 snapshots).
   */
  snapshotPartItems: 100,
  /** Keys and values encoded at once at most when snapshotting: a part of 4 KiB values holds 16, not 100 (400 KiB, a few milliseconds). */
  snapshotPartBytes: 64 * 1024,
  /**
   * The share of the wall-clock time a snapshot's encoding may take (`pacedPause`). Encoded as fast
   * as it could, a 100,000-key state held a busy member for about a second and requests through it
   * waited up to 440 ms; paced at a quarter, 60-s runs of 9 connections over 3 members with 3–4
   * snapshots each had their slowest put at 247–283 ms (293–485 before), p99.9 208–221 ms
   * (235–273). On a machine the cluster keeps busy, even a quarter of a core slows every member:
   * with 9 connections to the leader, it finished about a quarter fewer puts while a member
   * encoded (four runs); at a tenth, at most 9 % fewer for 2.5 times as long (three runs).
   */
  snapshotCpuShare: 0.1,
  /** Entries kept behind a snapshot so that slightly slow followers get entries, not a snapshot. */
  keepEntriesBehindSnapshot: 2_000,
  /** A lease expiry proposed but not applied is proposed again after this long. */
  expiryRetryMs: 2000,
  /**
   * The largest encoded command: below the transport's frame limit, so that an entry can always be
   * sent (the core sends at least one entry per append; one that cannot travel would wedge the log).
   */
  maxCommandBytes: 6 * 1024 * 1024
} as const

interface Slot {
  readonly client: string
  sequence: number
}

interface PendingProposal {
  readonly bytes: Uint8Array
  /** With the result once applied; with undefined to wake its caller (the replica stops or failed). */
  readonly resolve: (result: StoreResult | undefined) => void
}

/**
 * This node's copy of the store: the state machine fed by the Raft driver, plus everything that
 * waits on it — proposals waiting for their entry to apply (matched by session and sequence),
 * reads waiting for a ReadIndex, watchers waiting for a new revision — and, on the leader, the
 * lease clocks that decide expiry.
 */
export class StoreReplica implements RaftApplication {
  private machine: StoreStateMachine
  private appliedIndex: number
  private confState: ConfState
  private roleNow: Role = 'follower'
  private leaderNow: NodeId | null = null
  private readonly proposals = new Map<string, PendingProposal>()
  /** Called with the read index once confirmed; with undefined to wake the reader (see `wakeRequests`). */
  private readonly reads = new Map<string, (index: number | undefined) => void>()
  /** Waiting for an apply: any (`undefined`), or one that changes a prefix (`nextChange`). */
  private readonly applyListeners = new Map<(value: undefined) => void, ApplyInterest | undefined>()
  private failure: Error | undefined
  private readonly freeSlots: Slot[] = []
  private slotCount = 0
  private readonly bootId = randomBytes(6).toString('hex')
  private readonly deadlines = new LeaseDeadlines()
  private readonly expiring = new Map<LeaseId, number>()
  private snapshotIndex: number
  /** The snapshot being taken, if any. */
  private snapshotRun: Promise<void> | undefined
  private detached = false
  /** This member's snapshot phase for the membership it was worked out for (checked on every apply). */
  private phase: { readonly conf: ConfState, readonly phase: number } | undefined
  private driver: RaftDriver | undefined
  private leaseTimer: NodeJS.Timeout | undefined

  constructor (
    private readonly init: {
      readonly id: NodeId
      readonly storage: LevelRaftStorage
      readonly electionTimeoutMs: number
      readonly logger: Logger
      /** Monotonic milliseconds. */
      readonly nowMs: () => number
      /** Overrides `replicaLimits.snapshotEveryEntries` (tests). */
      readonly snapshotEveryEntries?: number
    },
    /** The snapshot it starts from, the storage's latest (`readSnapshot`); not kept: the state is decoded from it. */
    snapshot: Snapshot
  ) {
    this.machine = machineFrom(snapshot)
    this.appliedIndex = snapshot.metadata.index
    this.snapshotIndex = snapshot.metadata.index
    this.confState = snapshot.metadata.conf
  }

  /** Connects the driver that feeds this replica and carries its proposals; starts the lease clock. */
  attach (driver: RaftDriver): void {
    this.driver = driver
    this.leaseTimer = setInterval(() => { this.expireLeases() }, 100)
  }

  /**
   * Stops serving: ends what waits on it at once, abandons a snapshot being encoded, and resolves
   * once one being written is done, so that nothing writes to the storage after it is closed.
   */
  async detach (): Promise<void> {
    if (this.leaseTimer !== undefined) clearInterval(this.leaseTimer)
    this.driver = undefined
    this.detached = true
    this.wakeRequests()
    await this.snapshotRun
  }

  /**
   * Wakes every request and every wait for an apply: none will be answered now (the replica was
   * detached or failed), and each ends with `ERR_STOPPED` at once rather than at its deadline.
   */
  private wakeRequests (): void {
    for (const pending of this.proposals.values()) pending.resolve(undefined)
    for (const resolve of this.reads.values()) resolve(undefined)
    this.notifyApplied()
  }

  get state (): StoreStateMachine { return this.machine }
  get applied (): number { return this.appliedIndex }
  get conf (): ConfState { return this.confState }
  get role (): Role { return this.roleNow }
  get leader (): NodeId | null { return this.leaderNow }
  get isLeader (): boolean { return this.roleNow === 'leader' }
  get id (): NodeId { return this.init.id }
  /** A voter can serve reads and writes itself; learners and removed members forward. */
  get isVoter (): boolean { return this.confState.voters.includes(this.init.id) }

  // ---- RaftApplication ----

  applySnapshot (snapshot: Snapshot): void {
    this.machine = machineFrom(snapshot)
    this.appliedIndex = snapshot.metadata.index
    this.snapshotIndex = snapshot.metadata.index
    this.confState = snapshot.metadata.conf
    this.notifyApplied()
  }

  applyEntries (entries: readonly Entry[], conf: ConfState): void {
    noteClientWork(entries.length)
    const nowMs = this.init.nowMs()
    for (const entry of entries) {
      this.appliedIndex = entry.index
      if (entry.type !== 'normal' || entry.data.byteLength === 0) continue
      let command: SessionCommand
      try {
        command = storeCodec.decodeCommand(entry.data)
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error
        // Every node skips the same undecodable entry, so the replicas stay identical.
        this.init.logger.error('skipped undecodable entry', { index: entry.index, error: error.message })
        continue
      }
      const result = this.machine.apply(entry.index, command)
      this.trackLeases(command.command, result, nowMs)
      const pending = this.proposals.get(proposalKey(command.client, command.sequence))
      pending?.resolve(result)
    }
    this.confState = conf
    this.notifyApplied(true)
    this.maybeSnapshot()
  }

  readStates (states: readonly ReadState[]): void {
    for (const state of states) this.reads.get(state.context)?.(state.index)
  }

  softState (state: SoftState): void {
    const wasLeader = this.roleNow === 'leader'
    const leaderChanged = state.leader !== this.leaderNow
    this.roleNow = state.role
    this.leaderNow = state.leader
    if (state.role === 'leader' && !wasLeader) {
      // Raft thesis §6.3 / etcd's lessor: the new leader does not know when each lease was last
      // kept alive, so every lease gets its whole TTL again plus an election timeout.
      this.deadlines.promote(this.machine.leaseList(), this.init.nowMs(), this.init.electionTimeoutMs)
      this.expiring.clear()
    }
    // Proposals sent to a leader that is gone were lost with it: send them again now rather than
    // after the retry timeout, so a failover costs an election and not more.
    if (leaderChanged && state.leader !== null) {
      for (const pending of this.proposals.values()) this.driver?.propose(pending.bytes)
      for (const context of this.reads.keys()) this.driver?.readIndex(context)
    }
    this.notifyApplied()
  }

  // ---- requests ----

  /**
   * Proposes a command and answers what applying it answered. Retried with the same session and
   * sequence until it applies or `timeoutMs` passes, so it applies at most once; a timeout means
   * the outcome is unknown.
   */
  async execute (command: StoreCommand, timeoutMs: number): Promise<StoreResult> {
    this.requireDriver()
    const slot = this.takeSlot()
    const sequence = slot.sequence + 1
    const key = proposalKey(slot.client, sequence)
    const deadline = this.init.nowMs() + timeoutMs
    let accepted = false
    try {
      const bytes = storeCodec.encodeCommand({ client: slot.client, sequence, command })
      if (bytes.byteLength > replicaLimits.maxCommandBytes) {
        throw new ClusterError('ERR_LIMIT', `the request is ${bytes.byteLength} bytes encoded; at most ${replicaLimits.maxCommandBytes} fit in one log entry`)
      }
      slot.sequence = sequence
      const { promise, resolve } = deferred<StoreResult | undefined>()
      this.proposals.set(key, { bytes, resolve })
      // Proposals lost with a leader are resent at once on a leader change (softState); the timer
      // is the fallback for one lost on the way, backing off so a slow cluster is not flooded.
      let retryMs: number = replicaLimits.retryMs
      while (true) {
        this.throwIfFailed()
        const acceptance = this.requireDriver().propose(bytes)
        if (acceptance.ok) accepted = true
        const waitMs = Math.min(acceptance.ok ? retryMs : replicaLimits.noLeaderRetryMs, deadline - this.init.nowMs())
        if (acceptance.ok) retryMs *= 2
        const result = await within(promise, waitMs)
        if (result !== undefined) return result
        if (accepted && this.driver === undefined) throw new ClusterError('ERR_STOPPED', 'the node stopped before the command applied (the outcome is unknown)')
        if (this.init.nowMs() >= deadline) throw this.unavailable(accepted, timeoutMs)
      }
    } finally {
      this.proposals.delete(key)
      this.freeSlots.push(slot)
    }
  }

  /**
   * Waits until this replica reflects every write completed before the call (ReadIndex, thesis
   * §6.4). Ends with `ERR_CANCELLED` as soon as `signal` aborts: its caller went away or stops.
   */
  async readBarrier (timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const context = randomBytes(8).toString('hex')
    const { promise, resolve } = deferred<number | undefined>()
    this.reads.set(context, resolve)
    const deadline = this.init.nowMs() + timeoutMs
    let accepted = false
    try {
      while (true) {
        this.throwIfFailed()
        const acceptance = this.requireDriver().readIndex(context)
        if (acceptance.ok) accepted = true
        const waitMs = Math.min(acceptance.ok ? replicaLimits.retryMs : replicaLimits.noLeaderRetryMs, deadline - this.init.nowMs())
        const index = await within(promise, waitMs, signal)
        throwIfCancelled(signal)
        if (index !== undefined) {
          await this.waitApplied(index, deadline, signal)
          return
        }
        if (this.init.nowMs() >= deadline) throw this.unavailable(accepted, timeoutMs)
      }
    } finally {
      this.reads.delete(context)
    }
  }

  /** Waits until the applied index reaches `index` (`ERR_CANCELLED` once `signal` aborts). */
  async waitApplied (index: number, deadlineMs: number, signal?: AbortSignal): Promise<void> {
    while (this.appliedIndex < index) {
      throwIfCancelled(signal)
      this.throwIfFailed()
      this.requireDriver()
      const remaining = deadlineMs - this.init.nowMs()
      if (remaining <= 0) throw new ClusterError('ERR_TIMEOUT', `timed out waiting for index ${index} to apply (applied ${this.appliedIndex})`)
      await this.nextApply(remaining, signal)
    }
  }

  /**
   * Resolves at the next apply or leader change, when `signal` aborts or the replica stops, or after
   * `timeoutMs`. A replica already stopped has no next apply: it waits out the timeout, so that a
   * caller looping on it (a watch) sleeps instead of spinning until it is told to stop.
   */
  async nextApply (timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.waitForApply(undefined, timeoutMs, signal)
  }

  /**
   * Like `nextApply`, but an apply only ends the wait when it brings an event under `prefix` at or
   * after `fromRevision` (at once if there is one already); a snapshot, a leader change or a stop
   * always does. A watch waits with this, so that writes elsewhere in the key space do not wake it.
   */
  async nextChange (prefix: string, fromRevision: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.hasChange(prefix, fromRevision)) return
    await this.waitForApply({ prefix, fromRevision }, timeoutMs, signal)
  }

  private async waitForApply (interest: ApplyInterest | undefined, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted === true) return
    const { promise, resolve } = deferred<undefined>()
    this.applyListeners.set(resolve, interest)
    try {
      await within(promise, timeoutMs, signal)
    } finally {
      this.applyListeners.delete(resolve)
    }
  }

  private hasChange (prefix: string, fromRevision: number): boolean {
    const batch = this.machine.watch(prefix, fromRevision, 1)
    return batch.compacted || batch.events.length > 0
  }

  /** The driver stopped on an error: every request fails from now on (the node is exiting). */
  fail (error: Error): void {
    this.failure = error
    this.wakeRequests()
  }

  private throwIfFailed (): void {
    if (this.failure !== undefined) throw new ClusterError('ERR_STOPPED', `the node stopped replicating: ${this.failure.message}`)
  }

  /** Restarts a lease's clock; only the leader keeps lease clocks. Answers the lease's TTL, or undefined for an unknown lease. */
  keepAlive (lease: LeaseId): number | undefined {
    this.throwIfFailed()
    if (!this.isLeader) throw new ClusterError('ERR_NOT_LEADER', 'only the leader keeps leases alive')
    // An expiry already proposed is final: the deadline table refuses the renewal too.
    if (this.expiring.has(lease) || !this.deadlines.keepAlive(lease, this.init.nowMs())) return undefined
    return this.machine.leaseList().find(item => item.id === lease)?.ttlMs
  }

  private trackLeases (command: StoreCommand, result: StoreResult, nowMs: number): void {
    if (result.type === 'leaseGranted') {
      // A grant answered again from its session (a retry applied late) may name a lease that has
      // since ended: only leases that exist get a clock.
      if (this.machine.leaseList().some(item => item.id === result.lease)) this.deadlines.grant(result.lease, result.ttlMs, nowMs)
    } else if (result.type === 'leaseRevoked' || ((command.type === 'leaseExpire' || command.type === 'leaseRevoke') && result.type === 'refused')) {
      const lease = result.type === 'leaseRevoked' ? result.lease : (command as { lease: LeaseId }).lease
      this.deadlines.forget(lease)
      this.expiring.delete(lease)
    } else if (command.type === 'restore') {
      this.expiring.clear()
      this.deadlines.promote(this.machine.leaseList(), nowMs, this.init.electionTimeoutMs)
    }
  }

  /** On the leader: proposes the expiry of every lease whose clock ran out (decided here, applied everywhere). */
  private expireLeases (): void {
    if (!this.isLeader || this.driver === undefined) return
    const nowMs = this.init.nowMs()
    const due = new Set(this.deadlines.expired(nowMs))
    for (const [lease, proposedMs] of this.expiring) if (nowMs - proposedMs >= replicaLimits.expiryRetryMs) due.add(lease)
    for (const lease of due) {
      this.expiring.set(lease, nowMs)
      this.driver.propose(storeCodec.encodeCommand({ client: '', sequence: 0, command: { type: 'leaseExpire', lease } }))
    }
  }

  private maybeSnapshot (): void {
    const every = this.init.snapshotEveryEntries ?? replicaLimits.snapshotEveryEntries
    if (this.phase?.conf !== this.confState) this.phase = { conf: this.confState, phase: snapshotPhase(this.init.id, this.confState, every) }
    if (this.detached || this.snapshotRun !== undefined || !snapshotDue(this.appliedIndex, this.snapshotIndex, every, this.phase.phase)) return
    const index = this.appliedIndex
    // A copy of the state at `index`, encoded a part at a time between other work (the copy is of
    // immutable records: applying goes on meanwhile).
    const state = this.machine.toData()
    const conf = this.confState
    this.snapshotRun = (async () => {
      try {
        const startedMs = this.init.nowMs()
        const pause = pacedPause(replicaLimits.snapshotCpuShare, this.init.nowMs, async ms => {
          await new Promise(resolve => ms === 0 ? setImmediate(resolve) : setTimeout(resolve, ms))
          if (this.detached) throw new ClusterError('ERR_STOPPED', 'the node is stopping')
        })
        const data = await storeCodec.encodeDataInParts(state, { partItems: replicaLimits.snapshotPartItems, partBytes: replicaLimits.snapshotPartBytes, pause })
        // A leader's snapshot installed meanwhile is newer than this one.
        if (index <= this.snapshotIndex || this.detached) return
        const encodedMs = this.init.nowMs()
        await this.init.storage.createSnapshot(index, conf, data)
        // A leader's snapshot installed during the write is newer still.
        this.snapshotIndex = Math.max(this.snapshotIndex, index)
        const writtenMs = this.init.nowMs()
        await this.init.storage.compact(Math.max(0, index - replicaLimits.keepEntriesBehindSnapshot))
        this.init.logger.info('snapshot taken', {
          index, bytes: data.byteLength, encodeMs: Math.round(encodedMs - startedMs), writeMs: Math.round(writtenMs - encodedMs), compactMs: Math.round(this.init.nowMs() - writtenMs)
        })
      } catch (error) {
        // Abandoned by `detach`: not a failure.
        if (!this.detached) this.init.logger.error('snapshot failed', { index, error: (error as Error).message })
      } finally {
        this.snapshotRun = undefined
      }
    })()
  }

  /** Wakes every `nextApply`, and every `nextChange` (with `onlyChanged`: those whose prefix changed). */
  private notifyApplied (onlyChanged = false): void {
    for (const [listener, interest] of this.applyListeners) {
      if (onlyChanged && interest !== undefined && !this.hasChange(interest.prefix, interest.fromRevision)) {
        // Nothing up to here concerns it: the next check starts after this revision, so a watch
        // that waits through many writes elsewhere costs each apply one event, not all of them.
        interest.fromRevision = this.machine.revision + 1
        continue
      }
      this.applyListeners.delete(listener)
      listener(undefined)
    }
  }

  private takeSlot (): Slot {
    const free = this.freeSlots.pop()
    if (free !== undefined) return free
    if (this.slotCount >= replicaLimits.maxInFlight) throw new ClusterError('ERR_LIMIT', `more than ${replicaLimits.maxInFlight} requests in flight on this node`)
    this.slotCount++
    return { client: `${this.init.id}/${this.bootId}/${this.slotCount}`, sequence: 0 }
  }

  private requireDriver (): RaftDriver {
    if (this.driver === undefined) throw new ClusterError('ERR_STOPPED', 'the node is stopping')
    return this.driver
  }

  private unavailable (accepted: boolean, timeoutMs: number): ClusterError {
    return accepted
      ? new ClusterError('ERR_TIMEOUT', `no answer from the cluster within ${timeoutMs} ms (the outcome is unknown)`)
      : new ClusterError('ERR_NO_LEADER', `the cluster has no leader (waited ${timeoutMs} ms)`)
  }
}

/** What a `nextChange` waits for: an event under `prefix` at or after `fromRevision`. */
interface ApplyInterest {
  readonly prefix: string
  /** Advanced past each apply that brought nothing under the prefix. */
  fromRevision: number
}

function proposalKey (client: string, sequence: number): string {
  return `${client}#${sequence}`
}

function machineFrom (snapshot: Snapshot): StoreStateMachine {
  return snapshot.data.byteLength === 0 ? new StoreStateMachine() : StoreStateMachine.fromData(storeCodec.decodeData(snapshot.data))
}

/** The promise's value, or undefined once `timeoutMs` passed or `signal` aborted first. */
async function within<T> (promise: Promise<T>, timeoutMs: number, signal?: AbortSignal): Promise<T | undefined> {
  if (timeoutMs <= 0 || signal?.aborted === true) return undefined
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const timeout = new Promise<undefined>(resolve => {
    timer = setTimeout(resolve, timeoutMs, undefined)
    onAbort = () => { resolve(undefined) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
  }
}

/** A wait whose caller went away (an HTTP client that left, a role that stops) ends at once. */
function throwIfCancelled (signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new ClusterError('ERR_CANCELLED', 'the caller stopped waiting')
}
