import type { NodeId } from '../lib/ids.js'
import type { Logger } from '../lib/logger.js'
import type { Rng } from '../lib/rng.js'
import type { Acceptance } from '../raft/raft.js'
import { appliesDuringWrite, RawNode, type RaftStatus, type Ready } from '../raft/raw-node.js'
import type { ConfChange, ConfState, Entry, Message, ReadState, Snapshot, SoftState } from '../raft/types.js'
import { CommitNotices } from './commit-notices.js'
import type { LevelRaftStorage } from './raft-storage.js'

/** What the driver hands to the application, in log order. */
export interface RaftApplication {
  /** A snapshot replaced the state (sent by the leader to a node that fell too far behind). */
  applySnapshot(snapshot: Snapshot): void
  /** Committed entries, in order; conf changes are already in force when this is called. */
  applyEntries(entries: readonly Entry[], conf: ConfState): void
  /** Linearizable read points, to be served once applied reaches each index. */
  readStates(states: readonly ReadState[]): void
  /** Leader or role changed. */
  softState(state: SoftState): void
}

/** How the driver runs. */
export interface RaftDriverInit {
  readonly id: NodeId
  readonly storage: LevelRaftStorage
  /** The index the application's state already holds (its snapshot's), so later entries are applied again. */
  readonly applied: number
  readonly tickMs: number
  readonly electionTicks: number
  /** Ticks between a leader's heartbeats; 1 unless given. */
  readonly heartbeatTicks?: number
  readonly send: (messages: readonly Message[]) => void
  readonly application: RaftApplication
  readonly rng: Rng
  readonly logger: Logger
  /** Called once if the driver stops on an error (a failed durable write, a bug while applying). */
  readonly onFailure: (error: Error) => void
}

/**
 * Drives a Raft core in real time (after etcd's raft node loop): ticks from a monotonic timer,
 * feeds it messages and requests, and carries out each Ready in the contract's order — one synced
 * level batch, with the early messages sent and committed entries applied while it syncs, then the
 * other messages — one Ready at a time. Requests arriving while a Ready is being persisted pile up in
 * the core and go out together in the next one, which is how proposals are batched; those a
 * follower forwards to its leader leave at once, joined. Commit notices to followers wait briefly
 * for the next append (`CommitNotices`).
 */
export class RaftDriver {
  private readonly node: RawNode
  private readonly notices: CommitNotices
  private timer: NodeJS.Timeout | undefined
  private scheduled = false
  private running: Promise<void> | undefined
  private stopped = false
  private failure: Error | undefined

  constructor (private readonly init: RaftDriverInit) {
    this.node = new RawNode({ id: init.id, electionTicks: init.electionTicks, heartbeatTicks: init.heartbeatTicks ?? 1, applied: init.applied, rng: init.rng, logger: init.logger }, init.storage)
    this.notices = new CommitNotices(init.send)
  }

  start (): void {
    this.timer = setInterval(() => {
      this.node.tick()
      this.schedule()
    }, this.init.tickMs)
    this.schedule()
  }

  /** Stops ticking and waits for the Ready in progress to finish. */
  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    await this.running
    this.notices.stop()
  }

  step (message: Message): void {
    if (this.stopped) return
    this.node.step(message)
    // A follower that forwarded a proposal or a read waits for the commit index to pass it.
    if (message.type === 'propose' || message.type === 'readIndex') this.notices.expect(message.from, this.node.lastIndex(), message.type === 'propose' ? 'proposal' : 'read')
    this.schedule()
  }

  /** The transport found `peer`'s process gone; if it led us, campaign soon (see `Raft.peerGone`). */
  peerGone (peer: NodeId): void {
    if (this.stopped) return
    this.node.reportPeerGone(peer)
    this.schedule()
  }

  /** Whether `peer` is the leader this node follows: the one peer whose loss it acts on. */
  follows (peer: NodeId): boolean {
    const { role, leader } = this.node.basicStatus()
    return role === 'follower' && leader === peer
  }

  propose (data: Uint8Array): Acceptance {
    const acceptance = this.node.propose(data)
    this.schedule()
    return acceptance
  }

  proposeConfChange (change: ConfChange): Acceptance {
    const acceptance = this.node.proposeConfChange(change)
    this.schedule()
    return acceptance
  }

  readIndex (context: string): Acceptance {
    const acceptance = this.node.readIndex(context)
    this.schedule()
    return acceptance
  }

  transferLeadership (to: NodeId): Acceptance {
    const acceptance = this.node.transferLeadership(to)
    this.schedule()
    return acceptance
  }

  status (): RaftStatus {
    return this.node.status()
  }

  basicStatus (): ReturnType<RawNode['basicStatus']> {
    return this.node.basicStatus()
  }

  /** The error that stopped the driver (a storage failure), if any. */
  get error (): Error | undefined {
    return this.failure
  }

  private schedule (): void {
    if (this.scheduled || this.stopped || this.failure !== undefined) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      // Queued before the driver stopped or failed: the Ready that failed was never advanced.
      if (this.stopped || this.failure !== undefined) return
      if (this.running !== undefined) {
        // A Ready is being persisted: requests this node forwards go to the leader now rather
        // than after that write and the next one (they promise nothing about this node's disk).
        this.notices.deliver(this.node.takeForwarded())
        return
      }
      this.running = this.process().finally(() => { this.running = undefined })
    })
  }

  private async process (): Promise<void> {
    try {
      while (this.node.hasReady() && !this.stopped) {
        const ready = this.node.ready()
        // The write starts first: its sync runs on another thread while this one encodes and sends
        // the early appends. (Sent first, they left about 40 µs sooner, but a leader's sync began
        // 0.25–0.35 ms later, and a write through a follower waits for the leader's disk.)
        const write = ready.hardState !== undefined || ready.entries.length > 0 || ready.snapshot !== undefined
          ? this.init.storage.save({ hardState: ready.hardState, entries: ready.entries, snapshot: ready.snapshot })
          : undefined
        // Awaited below; this only keeps a failed write from counting as unhandled before then.
        write?.catch(() => {})
        this.notices.deliver(ready.earlyMessages)
        // The sockets write what was sent in this tick when the tick ends (they are corked until
        // then). End it before applying, which would otherwise hold back the followers' appends.
        if (ready.earlyMessages.length > 0) await endOfTick()
        // Committed entries that this node's disk already holds are durable on a quorum, so
        // applying them, and answering the clients that wait on them, need not wait for this
        // Ready's write: they run while it syncs (etcd's server applies alongside its WAL write).
        // Not so for entries of this very write — a leader counts its own copy before it is on
        // disk — nor for a snapshot, a membership change or a role change: those go after it.
        // (Applying is synchronous, so a long one delays this Ready's messages past the sync;
        // under steady load it is the shorter of the two.)
        const applyDuringWrite = appliesDuringWrite(ready)
        if (applyDuringWrite) this.apply(ready)
        await write
        this.notices.deliver(ready.messages)
        if (!applyDuringWrite) this.apply(ready)
        this.node.advance(ready)
      }
    } catch (error) {
      // A failed durable write leaves the core ahead of the disk: stop driving rather than send
      // messages that promise what was never persisted. The node reports it and exits.
      this.failure = error as Error
      this.init.logger.error('raft driver stopped', { error: (error as Error).message })
      if (this.timer !== undefined) clearInterval(this.timer)
      this.init.onFailure(error as Error)
    }
    if (this.node.hasReady() && !this.stopped) this.schedule()
  }

  /** Hands a Ready's role change, snapshot, committed entries and read states to the application. */
  private apply (ready: Ready): void {
    const app = this.init.application
    if (ready.softState !== undefined) app.softState(ready.softState)
    if (ready.snapshot !== undefined) app.applySnapshot(ready.snapshot)
    if (ready.committedEntries.length > 0) {
      let conf = this.node.confState()
      for (const entry of ready.committedEntries) if (entry.type === 'confChange') conf = this.node.applyConfChange(entry)
      app.applyEntries(ready.committedEntries, conf)
    }
    if (ready.readStates.length > 0) app.readStates(ready.readStates)
  }
}

/** Resolves once the work queued for the end of the current tick (`process.nextTick`) has run. */
async function endOfTick (): Promise<void> {
  await new Promise<void>(resolve => { process.nextTick(resolve) })
}
