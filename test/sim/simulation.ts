import type { NodeId } from '../../src/lib/ids.js'
import { silentLogger } from '../../src/lib/logger.js'
import { randomFloat, randomInt, SeededRng, type Rng } from '../../src/lib/rng.js'
import { storeCodec } from '../../src/node/store-codec.js'
import { appliesDuringWrite, RawNode, type Ready } from '../../src/raft/raw-node.js'
import { MemoryStorage } from '../../src/raft/storage.js'
import type { ConfState, Entry, Message } from '../../src/raft/types.js'
import { LeaseDeadlines } from '../../src/store/lease-deadlines.js'
import { StoreStateMachine } from '../../src/store/state-machine.js'
import type { LeaseId, SessionCommand, StoreCommand, TxnOp } from '../../src/store/types.js'
import { bootstrapStorage } from '../raft/cluster.js'
import { EventQueue } from './event-queue.js'
import { fingerprintStore, InvariantChecker, type Violation } from './invariants.js'

/** One simulated run: which seed, how many initial voters, how long faults go on, then how long to settle. */
export interface SimOptions {
  readonly seed: number
  readonly voters: number
  readonly faultMs: number
  readonly settleMs: number
  /** Which Readies are applied as they are taken, before their write (default: the driver's rule, `appliesDuringWrite`). */
  readonly applyBeforeWrite?: (ready: Ready) => boolean
}

export interface SimResult {
  readonly seed: number
  readonly violations: readonly Violation[]
  readonly stats: Readonly<Record<string, number>>
}

const tickMs = 10
const electionTicks = 10
/** Apply this many entries between snapshots; keep this many behind the snapshot for slow followers. */
const snapshotEvery = 40
const retainAfterSnapshot = 5
/** After healing, more messages than this per live node per tick means an exchange runs away. */
const maxMessagesPerNodeTick = 30

// The store's clients. Each has a session; every transaction of a client also writes its stamp
// key (`seq/<client>`) with its sequence, so a retry that applied twice would show there.
const clientNames = ['c1', 'c2', 'c3', 'c4'] as const
/** Leases have ids 1..leaseCount; lock owner `o<k>` holds its locks under lease k. */
const leaseCount = 6
const ownerCount = 4
const lockNames = ['l1', 'l2', 'l3'] as const
/** A retry re-sends one of the client's last few commands, as a client that got no answer does. */
const retryWindow = 3
/** Compactions keep about this many revisions of watch history. */
const historyRevisions = 20
/** No restore is proposed in the last stretch of faults, so none lands after the probe. */
const restoreQuietMs = 1000
/** The store state fingerprint is compared every this many indexes, and at every snapshot. */
const stateCheckEvery = 16

interface SimClient {
  readonly name: string
  sequence: number
  /** Its last few encoded commands, for retries. */
  readonly recent: Uint8Array[]
}

type SimEvent =
  | { type: 'tick', node: NodeId, incarnation: number }
  | { type: 'deliver', message: Message }
  | { type: 'ready', node: NodeId, incarnation: number }
  | { type: 'persist', node: NodeId, incarnation: number }
  | { type: 'resume', node: NodeId, incarnation: number }
  | { type: 'restart', node: NodeId }
  | { type: 'crash', node: NodeId, incarnation: number }
  | { type: 'peerGone', node: NodeId, incarnation: number, peer: NodeId }
  | { type: 'remove', node: NodeId }
  | { type: 'client' }
  | { type: 'fault' }
  | { type: 'heal' }
  | { type: 'probe' }

interface SimNode {
  readonly id: NodeId
  incarnation: number
  raw: RawNode
  readonly storage: MemoryStorage
  up: boolean
  removed: boolean
  pausedUntilMs: number
  readyScheduled: boolean
  appliedIndex: number
  /** The store this node applies its log to. */
  machine: StoreStateMachine
  /** Lease expiry as this node would decide it when it leads. */
  readonly deadlines: LeaseDeadlines
  conf: ConfState
  lastSnapshotIndex: number
  /** read context → the completed-write floor when it was asked, and when. */
  readonly reads: Map<string, { floor: number, askedAtMs: number }>
  /** Ticks run a little fast or slow per node. */
  readonly tickJitterMs: number
  /** As leader, whether it has applied anything in its term yet. */
  committedInTerm: boolean
  /** The Ready taken and not yet advanced, with the term and leadership it was taken in. */
  outstanding: Ready | undefined
  /** The outstanding Ready's committed entries were applied as it was taken, before its write (`appliesDuringWrite`). */
  appliedBeforeWrite: boolean
  termAtReady: number
  leaderAtReady: boolean
}

/**
 * A deterministic world for Raft cores: virtual time, a network that drops, duplicates, delays
 * and reorders messages and can be partitioned (symmetric or one-way), nodes that pause, crash and
 * restart from what they persisted, clients writing and reading, membership changes, leadership
 * transfers and snapshots with compaction. The log carries encoded store commands (puts,
 * compare-and-set, leases, locks, compactions, restores, retried now and then) that each node
 * applies to its own `StoreStateMachine`; snapshots carry the store's encoded state, and the
 * leader expires leases on its clock. Every decision comes from one seeded generator, so a seed
 * replays exactly. The invariant checker looks at every persisted Ready and applied entry.
 */
export class Simulation {
  private readonly rng: Rng
  private readonly events = new EventQueue<SimEvent>()
  private readonly nodes = new Map<NodeId, SimNode>()
  private readonly checker = new InvariantChecker()
  private readonly cut = new Set<string>()
  private nowMs = 0
  private dropRate = 0
  private duplicateRate = 0
  private maxDelayMs = 5
  /** Per-seed flow-control limits: one entry per message and one message in flight open up interleavings (Figure 8) that big batches hide. */
  private readonly maxSizePerMsgBytes: number
  private readonly maxInflightMsgs: number
  /** Per-seed fault pace, and how often a freshly elected leader crashes at once (leader churn, where Figure 8 lives). */
  private readonly faultGapMs: number
  private readonly churn: number
  /** Per-seed restart delay: quick restarts let a crashed leader come back before anyone replaces it. */
  private readonly maxRestartMs: number
  private readonly snapshotChunkBytes: number
  private healed = false
  /** Messages sent after healing: a runaway exchange (a resend loop) shows up here. */
  private messagesAfterHeal = 0
  private writeSeq = 0
  private readSeq = 0
  private probeSeq = 0
  /**
   * Entry data → its decoded command. Nodes share entry objects (messages are not serialized), so
   * each entry is decoded once rather than once per node: decoding is deterministic, and the
   * machines never mutate what commands carry.
   */
  private readonly decoded = new WeakMap<Uint8Array, SessionCommand>()
  private readonly clients: SimClient[] = clientNames.map(name => ({ name, sequence: 0, recent: [] }))
  private nextNodeNumber: number
  private probeApplied = false
  private readonly stats: Record<string, number> = { crashes: 0, pauses: 0, partitions: 0, snapshotsSent: 0, snapshotsMade: 0, confChanges: 0, transfers: 0, reads: 0, readsAnswered: 0, elections: 0, retries: 0, restores: 0, leaseExpiries: 0, lockGrants: 0, goneReports: 0 }

  constructor (private readonly options: SimOptions) {
    this.rng = new SeededRng(options.seed)
    this.maxSizePerMsgBytes = [1, 64, 512, 4096][randomInt(this.rng, 0, 4)] as number
    this.maxInflightMsgs = [1, 2, 8, 256][randomInt(this.rng, 0, 4)] as number
    this.faultGapMs = [40, 150, 600][randomInt(this.rng, 0, 3)] as number
    this.churn = [0, 0.1, 0.4][randomInt(this.rng, 0, 3)] as number
    this.maxRestartMs = [150, 1500][randomInt(this.rng, 0, 2)] as number
    this.snapshotChunkBytes = [64, 512, 8192][randomInt(this.rng, 0, 3)] as number
    const voters = Array.from({ length: options.voters }, (_, i) => String(i + 1) as NodeId)
    this.nextNodeNumber = options.voters + 1
    for (const node of voters) {
      const storage = bootstrapStorage(voters)
      this.checker.persisted(node, { entries: storage.entries(1, voters.length + 1, Infinity), hardState: storage.savedHardState() }, 1)
      this.startNode(node, storage)
    }
    this.dropRate = randomFloat(this.rng) * 0.1
    this.duplicateRate = randomFloat(this.rng) * 0.05
    this.maxDelayMs = 1 + randomInt(this.rng, 0, 20)
    this.events.push(20, { type: 'client' })
    this.events.push(200, { type: 'fault' })
    this.events.push(options.faultMs, { type: 'heal' })
    this.events.push(options.faultMs + options.settleMs / 2, { type: 'probe' })
  }

  /** Runs to the end and reports what broke, if anything. */
  run (): SimResult {
    const endMs = this.options.faultMs + this.options.settleMs
    for (let next = this.events.pop(); next !== undefined && next.atMs <= endMs; next = this.events.pop()) {
      this.nowMs = next.atMs
      this.checker.nowMs = next.atMs
      try {
        this.handle(next.event)
      } catch (error) {
        // An assertion in the core is a safety check too.
        this.checker.violations.push({ atMs: this.nowMs, property: 'assertion', detail: error instanceof Error ? error.message : String(error) })
      }
      if (this.checker.violations.length > 0) break
    }
    if (this.checker.violations.length === 0) this.checkLiveness()
    return {
      seed: this.options.seed,
      violations: this.checker.violations,
      stats: { ...this.stats, committed: this.checker.committedCount(), writes: this.writeSeq }
    }
  }

  // ---- nodes ----

  private startNode (id: NodeId, storage: MemoryStorage): SimNode {
    const previous = this.nodes.get(id)
    const snapshot = storage.snapshot()
    const node: SimNode = {
      id,
      incarnation: (previous?.incarnation ?? 0) + 1,
      raw: new RawNode({ id, electionTicks, heartbeatTicks: 1, applied: snapshot.metadata.index, maxSizePerMsgBytes: this.maxSizePerMsgBytes, maxInflightMsgs: this.maxInflightMsgs, snapshotChunkBytes: this.snapshotChunkBytes, rng: new SeededRng(randomInt(this.rng, 0, 2 ** 32)), logger: silentLogger }, storage),
      storage,
      up: true,
      removed: false,
      pausedUntilMs: 0,
      readyScheduled: false,
      appliedIndex: snapshot.metadata.index,
      machine: machineFrom(snapshot.data),
      deadlines: new LeaseDeadlines(),
      conf: snapshot.metadata.conf,
      lastSnapshotIndex: snapshot.metadata.index,
      reads: new Map(),
      tickJitterMs: randomInt(this.rng, -2, 3),
      committedInTerm: false,
      outstanding: undefined,
      appliedBeforeWrite: false,
      termAtReady: 0,
      leaderAtReady: false
    }
    this.checker.appliedUpTo(id, snapshot.metadata.index)
    if (snapshot.metadata.index > 0) this.checker.storeState(id, snapshot.metadata.index, fingerprint(node.machine))
    this.nodes.set(id, node)
    this.events.push(this.nowMs + randomInt(this.rng, 1, tickMs + 1), { type: 'tick', node: id, incarnation: node.incarnation })
    return node
  }

  private alive (node: SimNode | undefined, incarnation?: number): node is SimNode {
    return node !== undefined && node.up && !node.removed && (incarnation === undefined || node.incarnation === incarnation)
  }

  private scheduleReady (node: SimNode): void {
    if (node.readyScheduled) return
    node.readyScheduled = true
    // A short, random gap between a step and its Ready lets crashes fall in between.
    this.events.push(Math.max(this.nowMs, node.pausedUntilMs) + randomInt(this.rng, 0, 3), { type: 'ready', node: node.id, incarnation: node.incarnation })
  }

  private afterStep (node: SimNode): void {
    const { term, role } = node.raw.basicStatus()
    if (role === 'leader') this.checker.leaderSeen(node.id, term)
    if (node.raw.hasReady()) this.scheduleReady(node)
  }

  // ---- events ----

  private handle (event: SimEvent): void {
    switch (event.type) {
      case 'tick': return this.onTick(event.node, event.incarnation)
      case 'deliver': return this.onDeliver(event.message)
      case 'ready': return this.onReady(event.node, event.incarnation)
      case 'persist': return this.onPersist(event.node, event.incarnation)
      case 'resume': return this.onResume(event.node, event.incarnation)
      case 'restart': return this.onRestart(event.node)
      case 'crash': return this.onCrash(event.node, event.incarnation)
      case 'peerGone': return this.onPeerGone(event.node, event.incarnation, event.peer)
      case 'remove': return this.onRemove(event.node)
      case 'client': return this.onClient()
      case 'fault': return this.onFault()
      case 'heal': return this.onHeal()
      case 'probe': return this.onProbe()
    }
  }

  private onTick (id: NodeId, incarnation: number): void {
    const node = this.nodes.get(id)
    if (!this.alive(node, incarnation)) return
    this.events.push(this.nowMs + tickMs + node.tickJitterMs, { type: 'tick', node: id, incarnation })
    if (node.pausedUntilMs > this.nowMs) return
    node.raw.tick()
    if (node.raw.basicStatus().role === 'leader') this.expireLeases(node)
    this.afterStep(node)
  }

  /** As leader, proposes the expiry of every lease whose deadline passed on this node's clock. */
  private expireLeases (node: SimNode): void {
    for (const lease of node.deadlines.expired(this.nowMs)) {
      node.raw.propose(storeCodec.encodeCommand({ client: '', sequence: 0, command: { type: 'leaseExpire', lease } }))
      this.stats.leaseExpiries = (this.stats.leaseExpiries ?? 0) + 1
    }
  }

  private onDeliver (message: Message): void {
    const node = this.nodes.get(message.to)
    if (!this.alive(node)) return
    if (node.pausedUntilMs > this.nowMs) {
      this.events.push(node.pausedUntilMs + randomInt(this.rng, 0, 3), { type: 'deliver', message })
      return
    }
    if (message.type === 'snapshot' && message.offset === 0) this.stats.snapshotsSent = (this.stats.snapshotsSent ?? 0) + 1
    node.raw.step(message)
    this.afterStep(node)
  }

  private send (message: Message): void {
    if (this.healed) this.messagesAfterHeal++
    if (this.cut.has(`${message.from}>${message.to}`)) return
    if (randomFloat(this.rng) < this.dropRate) return
    const copies = randomFloat(this.rng) < this.duplicateRate ? 2 : 1
    for (let i = 0; i < copies; i++) this.events.push(this.nowMs + 1 + randomInt(this.rng, 0, this.maxDelayMs), { type: 'deliver', message })
  }

  /**
   * Takes a Ready; it is persisted, sent and applied a little later (as a real driver awaits its
   * fsync), while messages and ticks keep reaching the core. A crash in between loses it whole.
   */
  private onReady (id: NodeId, incarnation: number): void {
    const node = this.nodes.get(id)
    if (!this.alive(node, incarnation)) return
    node.readyScheduled = false
    if (node.outstanding !== undefined) return
    if (node.pausedUntilMs > this.nowMs) {
      this.scheduleReady(node)
      return
    }
    if (!node.raw.hasReady()) return
    node.outstanding = node.raw.ready()
    // A leader's early messages leave now; a crash before the write below loses only the write.
    for (const message of node.outstanding.earlyMessages) this.send(message)
    node.termAtReady = node.raw.basicStatus().term
    node.leaderAtReady = node.raw.basicStatus().role === 'leader'
    // As the node driver does: entries committed before this write are applied (and their
    // clients answered) at once; a crash before the write must not lose any of them.
    node.appliedBeforeWrite = (this.options.applyBeforeWrite ?? appliesDuringWrite)(node.outstanding)
    if (node.appliedBeforeWrite) this.applyCommitted(node, node.outstanding)
    this.events.push(this.nowMs + randomInt(this.rng, 0, 3), { type: 'persist', node: id, incarnation })
  }

  /** Carries out the outstanding Ready per the contract: persist, check, send, apply, advance. */
  private onPersist (id: NodeId, incarnation: number): void {
    const node = this.nodes.get(id)
    if (!this.alive(node, incarnation) || node.outstanding === undefined) return
    if (node.pausedUntilMs > this.nowMs) {
      this.events.push(node.pausedUntilMs, { type: 'persist', node: id, incarnation })
      return
    }
    const ready = node.outstanding
    node.storage.save(ready)
    const { term, role } = node.raw.basicStatus()
    if (ready.softState?.role === 'leader') {
      this.stats.elections = (this.stats.elections ?? 0) + 1
      node.committedInTerm = false
      // Keep-alives went to the old leader: every lease gets a full TTL and an election's grace.
      node.deadlines.promote(node.machine.leaseList(), this.nowMs, electionTicks * tickMs)
      if (!this.healed && randomFloat(this.rng) < this.churn) this.crashSoon(node)
    }
    this.checker.persisted(id, ready, node.termAtReady, node.leaderAtReady && role === 'leader' && term === node.termAtReady)
    for (const message of ready.messages) this.send(message)
    if (ready.snapshot !== undefined) {
      node.machine = machineFrom(ready.snapshot.data)
      node.appliedIndex = ready.snapshot.metadata.index
      node.conf = ready.snapshot.metadata.conf
      node.lastSnapshotIndex = ready.snapshot.metadata.index
      this.checker.appliedUpTo(id, ready.snapshot.metadata.index)
      this.checker.storeState(id, ready.snapshot.metadata.index, fingerprint(node.machine))
    }
    if (!node.appliedBeforeWrite) this.applyEntries(node, ready)
    if (ready.hardState !== undefined && role === 'leader' && !node.committedInTerm && ready.committedEntries.length > 0) {
      // The first commits of a new leader are where leader completeness is at stake: crash there too.
      node.committedInTerm = true
      if (!this.healed && randomFloat(this.rng) < this.churn) this.crashSoon(node)
    }
    if (!node.appliedBeforeWrite) this.answerReads(node, ready)
    node.raw.advance(ready)
    node.outstanding = undefined
    this.maybeSnapshot(node)
    this.afterStep(node)
  }

  /** Applies a Ready's committed entries and answers its reads. */
  private applyCommitted (node: SimNode, ready: Ready): void {
    this.applyEntries(node, ready)
    this.answerReads(node, ready)
  }

  private applyEntries (node: SimNode, ready: Ready): void {
    for (const entry of ready.committedEntries) {
      node.appliedIndex = entry.index
      this.checker.appliedEntry(node.id, entry)
      if (entry.type === 'confChange') {
        node.conf = node.raw.applyConfChange(entry)
        if (entry.change.type === 'removeNode' && this.nodes.has(entry.change.node)) {
          // The operator shuts a removed node down once the cluster has moved on.
          this.events.push(this.nowMs + 200, { type: 'remove', node: entry.change.node })
        }
      } else if (entry.data.byteLength > 0) {
        this.applyToStore(node, entry)
      }
      if (entry.index % stateCheckEvery === 0) this.checker.storeState(node.id, entry.index, fingerprint(node.machine))
    }
  }

  private answerReads (node: SimNode, ready: Ready): void {
    for (const read of ready.readStates) {
      const pending = node.reads.get(read.context)
      if (pending === undefined) continue
      node.reads.delete(read.context)
      this.stats.readsAnswered = (this.stats.readsAnswered ?? 0) + 1
      this.checker.readAnswered(node.id, read.context, read.index, pending.floor)
    }
  }

  /** Applies a committed command to the node's store, checking sessions and fencing tokens on the way. */
  private applyToStore (node: SimNode, entry: Entry & { type: 'normal' }): void {
    let envelope = this.decoded.get(entry.data)
    if (envelope === undefined) {
      try {
        envelope = storeCodec.decodeCommand(entry.data)
      } catch (error) {
        this.checker.violations.push({ atMs: this.nowMs, property: 'decode', detail: `${node.id} cannot decode entry ${entry.index}: ${String(error)}` })
        return
      }
      this.decoded.set(entry.data, envelope)
    }
    const { client, sequence, command } = envelope
    const stampKey = `seq/${client}`
    const isSessionTxn = command.type === 'txn' && client !== ''
    const stampBefore = isSessionTxn ? node.machine.get(stampKey) : undefined
    const holdersBefore = lockNames.map(name => node.machine.lock(name).holder)
    const result = node.machine.apply(entry.index, envelope)
    if (isSessionTxn) this.checker.sessionApplied(node.id, entry.index, client, sequence, stampBefore, node.machine.get(stampKey))
    // A lockAcquired answer may come from the session (a retry), long after the lock moved on:
    // the tokens to check are those of the holders the lock passes through.
    lockNames.forEach((name, i) => {
      const holder = node.machine.lock(name).holder
      if (holder === null || holder.token === holdersBefore[i]?.token) return
      this.checker.lockGranted(node.id, name, entry.index, holder.token)
      this.stats.lockGrants = (this.stats.lockGrants ?? 0) + 1
    })
    switch (result.type) {
      case 'leaseGranted':
        node.deadlines.grant(result.lease, result.ttlMs, this.nowMs)
        break
      case 'leaseRevoked':
        node.deadlines.forget(result.lease)
        break
      case 'restored':
        node.deadlines.promote(node.machine.leaseList(), this.nowMs, 0)
        break
    }
    if (client === 'probe') this.probeApplied = true
  }

  private crashSoon (node: SimNode): void {
    this.events.push(this.nowMs + randomInt(this.rng, 0, 4), { type: 'crash', node: node.id, incarnation: node.incarnation })
  }

  private onCrash (id: NodeId, incarnation: number): void {
    const node = this.nodes.get(id)
    if (!this.alive(node, incarnation) || this.healed) return
    // Volatile state, scheduled Readies and undelivered messages to it are gone.
    node.up = false
    this.stats.crashes = (this.stats.crashes ?? 0) + 1
    this.events.push(this.nowMs + randomInt(this.rng, 20, this.maxRestartMs), { type: 'restart', node: node.id })
    // The others' transports see its connections close and a redial refused, each a little later.
    for (const other of this.liveNodes()) this.reportGone(other, node.id)
  }

  private reportGone (node: SimNode, peer: NodeId): void {
    this.events.push(this.nowMs + randomInt(this.rng, 1, 10), { type: 'peerGone', node: node.id, incarnation: node.incarnation, peer })
  }

  private onPeerGone (id: NodeId, incarnation: number, peer: NodeId): void {
    const node = this.nodes.get(id)
    if (!this.alive(node, incarnation)) return
    if (node.pausedUntilMs > this.nowMs) {
      this.events.push(node.pausedUntilMs + randomInt(this.rng, 0, 3), { type: 'peerGone', node: id, incarnation, peer })
      return
    }
    this.stats.goneReports = (this.stats.goneReports ?? 0) + 1
    node.raw.reportPeerGone(peer)
    this.afterStep(node)
  }

  private maybeSnapshot (node: SimNode): void {
    if (node.appliedIndex - node.lastSnapshotIndex < snapshotEvery) return
    const data = node.machine.toData()
    this.checker.storeState(node.id, node.appliedIndex, fingerprintStore(data))
    node.storage.createSnapshot(node.appliedIndex, node.conf, storeCodec.encodeData(data))
    node.storage.compact(node.appliedIndex - retainAfterSnapshot)
    node.lastSnapshotIndex = node.appliedIndex
    this.stats.snapshotsMade = (this.stats.snapshotsMade ?? 0) + 1
  }

  private onResume (id: NodeId, incarnation: number): void {
    const node = this.nodes.get(id)
    if (this.alive(node, incarnation) && node.pausedUntilMs <= this.nowMs && node.raw.hasReady()) this.scheduleReady(node)
  }

  private onRestart (id: NodeId): void {
    const node = this.nodes.get(id)
    if (node === undefined || node.up || node.removed) return
    this.startNode(id, node.storage)
  }

  private onRemove (id: NodeId): void {
    const node = this.nodes.get(id)
    if (node !== undefined) node.removed = true
  }

  // ---- clients ----

  private liveNodes (): SimNode[] {
    return [...this.nodes.values()].filter(node => this.alive(node))
  }

  private leaderNode (): SimNode | undefined {
    let best: SimNode | undefined
    for (const node of this.liveNodes()) {
      const status = node.raw.basicStatus()
      if (status.role === 'leader' && (best === undefined || status.term > best.raw.basicStatus().term)) best = node
    }
    return best
  }

  private pick<T> (items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[randomInt(this.rng, 0, items.length)]
  }

  private onClient (): void {
    this.events.push(this.nowMs + randomInt(this.rng, 2, 25), { type: 'client' })
    const roll = randomFloat(this.rng)
    const node = this.pick(this.liveNodes())
    if (node === undefined) return
    if (roll < 0.7) {
      this.writeSeq++
      node.raw.propose(this.clientCommand(node))
      // Keep-alives go to the leader; now and then one is missed and the lease expires.
      if (randomFloat(this.rng) < 0.1) this.leaderNode()?.deadlines.keepAlive(randomInt(this.rng, 1, leaseCount + 1) as LeaseId, this.nowMs)
    } else if (roll < 0.93) {
      const context = `r${++this.readSeq}`
      this.stats.reads = (this.stats.reads ?? 0) + 1
      if (node.raw.readIndex(context).ok) node.reads.set(context, { floor: this.checker.completedWriteIndex, askedAtMs: this.nowMs })
    } else if (this.healed) {
      // After healing only reads and writes go on, so that liveness is judged on a settled membership.
    } else if (roll < 0.98) {
      this.changeMembership()
    } else {
      const leader = this.leaderNode()
      const target = this.pick(leader?.conf.voters.filter(v => v !== leader.id) ?? [])
      if (leader !== undefined && target !== undefined && leader.raw.transferLeadership(target).ok) this.stats.transfers = (this.stats.transfers ?? 0) + 1
    }
    this.afterStep(node)
  }

  /** A client's next command (sometimes a retry of a recent one), encoded as a log entry carries it. */
  private clientCommand (node: SimNode): Uint8Array {
    const client = this.pick(this.clients) as SimClient
    if (client.recent.length > 0 && randomFloat(this.rng) < 0.1) {
      this.stats.retries = (this.stats.retries ?? 0) + 1
      return this.pick(client.recent) as Uint8Array
    }
    const sequence = ++client.sequence
    const data = storeCodec.encodeCommand({ client: client.name, sequence, command: this.storeCommand(node, client.name, sequence) })
    client.recent.push(data)
    if (client.recent.length > retryWindow) client.recent.shift()
    return data
  }

  /** A random store command, built from what `node` has applied (as a client reading there would). */
  private storeCommand (node: SimNode, client: string, sequence: number): StoreCommand {
    const rng = this.rng
    const roll = randomFloat(rng)
    const key = `k/${randomInt(rng, 0, 12)}`
    const value = new TextEncoder().encode(`${client}#${sequence}`)
    const lease = randomInt(rng, 1, leaseCount + 1) as LeaseId
    const stamp: TxnOp = { type: 'put', key: `seq/${client}`, value: new TextEncoder().encode(String(sequence)) }
    if (roll < 0.3) {
      const put: TxnOp = randomFloat(rng) < 0.3 ? { type: 'put', key, value, lease } : { type: 'put', key, value }
      return { type: 'txn', compares: [], success: [put, stamp], failure: [] }
    }
    if (roll < 0.45) {
      // Compare-and-set on the revision this node last saw.
      const seen = node.machine.get(key)?.modRevision ?? 0
      return { type: 'txn', compares: [{ target: 'modRevision', key, op: '=', value: seen }], success: [{ type: 'put', key, value }, stamp], failure: [{ type: 'get', key }, stamp] }
    }
    if (roll < 0.5) {
      const remove: TxnOp = randomFloat(rng) < 0.3 ? { type: 'delete', key: 'k/1', prefix: true } : { type: 'delete', key }
      return { type: 'txn', compares: [], success: [remove, stamp], failure: [] }
    }
    if (roll < 0.6) return { type: 'leaseGrant', lease, ttlMs: randomInt(rng, 1000, 2500) }
    if (roll < 0.65) return { type: 'leaseRevoke', lease }
    const owner = randomInt(rng, 1, ownerCount + 1)
    const name = this.pick(lockNames) as string
    if (roll < 0.8) return { type: 'lockAcquire', name, lease: owner as LeaseId, owner: `o${owner}` }
    if (roll < 0.93) return { type: 'lockRelease', name, owner: `o${owner}` }
    if (roll < 0.99 || this.healed || this.nowMs > this.options.faultMs - restoreQuietMs) {
      return { type: 'compact', revision: Math.max(0, node.machine.revision - historyRevisions) }
    }
    // A backup of what this node has applied, put back.
    this.stats.restores = (this.stats.restores ?? 0) + 1
    return { type: 'restore', data: node.machine.toData() }
  }

  /** Adds a learner, promotes a caught-up learner, or removes a voter (keeping 3 to 5 voters). */
  private changeMembership (): void {
    const leader = this.leaderNode()
    if (leader === undefined) return
    const { voters, learners } = leader.conf
    const status = leader.raw.status()
    const learner = learners.find(l => (status.progress[l]?.match ?? 0) + 5 >= status.commit)
    let accepted = false
    if (learners.length === 0 && voters.length < 5 && randomFloat(this.rng) < 0.6) {
      const id = String(this.nextNodeNumber++) as NodeId
      accepted = leader.raw.proposeConfChange({ type: 'addLearner', node: id }).ok
      if (accepted) this.startNode(id, new MemoryStorage())
    } else if (learner !== undefined && voters.length < 5) {
      accepted = leader.raw.proposeConfChange({ type: 'addVoter', node: learner }).ok
    } else if (voters.length > 3) {
      const target = this.pick(voters)
      if (target !== undefined) accepted = leader.raw.proposeConfChange({ type: 'removeNode', node: target }).ok
    }
    if (accepted) this.stats.confChanges = (this.stats.confChanges ?? 0) + 1
    this.afterStep(leader)
  }

  // ---- faults ----

  private onFault (): void {
    if (this.healed) return
    this.events.push(this.nowMs + randomInt(this.rng, Math.floor(this.faultGapMs / 4), this.faultGapMs), { type: 'fault' })
    const nodes = this.liveNodes()
    const node = this.pick(nodes)
    const roll = randomFloat(this.rng)
    if (roll < 0.2) {
      // Symmetric partition into two random groups.
      this.cut.clear()
      const ids = [...this.nodes.keys()]
      const side = new Set(ids.filter(() => randomFloat(this.rng) < 0.5))
      for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.cut.add(`${a}>${b}`)
      this.stats.partitions = (this.stats.partitions ?? 0) + 1
    } else if (roll < 0.3) {
      // One-way cuts: a hears b, b does not hear a.
      const ids = [...this.nodes.keys()]
      const a = this.pick(ids)
      const b = this.pick(ids)
      if (a !== undefined && b !== undefined && a !== b) this.cut.add(`${a}>${b}`)
      this.stats.partitions = (this.stats.partitions ?? 0) + 1
    } else if (roll < 0.4) {
      const leader = this.leaderNode()
      if (leader !== undefined) {
        for (const other of this.nodes.keys()) {
          if (other === leader.id) continue
          this.cut.add(`${leader.id}>${other}`)
          this.cut.add(`${other}>${leader.id}`)
        }
        this.stats.partitions = (this.stats.partitions ?? 0) + 1
      }
    } else if (roll < 0.55) {
      this.cut.clear()
    } else if (roll < 0.7 && node !== undefined) {
      // Crash, the leader half of the time: volatile state, scheduled Readies and undelivered
      // messages to it are gone.
      const victim = randomFloat(this.rng) < 0.5 ? (this.leaderNode() ?? node) : node
      this.onCrash(victim.id, victim.incarnation)
    } else if (roll < 0.82 && node !== undefined) {
      // A pause, like a long GC: no ticks, messages wait.
      node.pausedUntilMs = this.nowMs + randomInt(this.rng, 20, 2 * electionTicks * tickMs + 300)
      this.stats.pauses = (this.stats.pauses ?? 0) + 1
      this.events.push(node.pausedUntilMs, { type: 'resume', node: node.id, incarnation: node.incarnation })
    } else if (roll < 0.92) {
      this.dropRate = randomFloat(this.rng) * 0.3
      this.duplicateRate = randomFloat(this.rng) * 0.1
      this.maxDelayMs = 1 + randomInt(this.rng, 0, 60)
    } else {
      this.dropRate = 0
      // A wrong report: a follower's transport, or every follower's, says the leader is gone while
      // it lives (it goes on serving until it hears of a newer term).
      const leader = this.leaderNode()
      const followers = nodes.filter(other => other !== leader)
      const told = randomFloat(this.rng) < 0.5 ? followers : [this.pick(followers)]
      if (leader !== undefined) for (const follower of told) if (follower !== undefined) this.reportGone(follower, leader.id)
    }
  }

  private onHeal (): void {
    this.healed = true
    this.cut.clear()
    this.dropRate = 0
    this.duplicateRate = 0
    this.maxDelayMs = 5
    for (const node of this.nodes.values()) {
      if (node.removed) continue
      if (!node.up) this.startNode(node.id, node.storage)
      else node.pausedUntilMs = Math.min(node.pausedUntilMs, this.nowMs)
    }
  }

  /** Once healed, a write must commit and reach every live member. */
  private onProbe (): void {
    if (this.probeApplied) return
    this.events.push(this.nowMs + 100, { type: 'probe' })
    const leader = this.leaderNode()
    if (leader === undefined) return
    const command: StoreCommand = { type: 'txn', compares: [], success: [{ type: 'put', key: 'probe', value: new Uint8Array([1]) }], failure: [] }
    leader.raw.propose(storeCodec.encodeCommand({ client: 'probe', sequence: ++this.probeSeq, command }))
    this.afterStep(leader)
  }

  private checkLiveness (): void {
    const leader = this.leaderNode()
    if (leader === undefined) {
      this.checker.violations.push({ atMs: this.nowMs, property: 'liveness', detail: 'no leader after healing' })
      return
    }
    const liveNodes = this.liveNodes().length
    const ticks = this.options.settleMs / tickMs
    if (this.messagesAfterHeal > maxMessagesPerNodeTick * liveNodes * ticks) {
      this.checker.violations.push({ atMs: this.nowMs, property: 'message volume', detail: `${this.messagesAfterHeal} messages in ${ticks} ticks among ${liveNodes} nodes after healing` })
    }
    if (leader.raw.status().leadTransferee !== null) {
      this.checker.violations.push({ atMs: this.nowMs, property: 'liveness', detail: `leader ${leader.id} still transferring leadership long after healing` })
    }
    // Reads asked well after healing, and well before the end, must have been answered.
    const settledMs = this.options.faultMs + 1000
    for (const node of this.liveNodes()) {
      for (const [context, read] of node.reads) {
        if (read.askedAtMs >= settledMs && read.askedAtMs <= this.nowMs - 500) {
          this.checker.violations.push({ atMs: this.nowMs, property: 'read liveness', detail: `read ${context} asked at ${node.id} at ${read.askedAtMs} ms was never answered` })
          return
        }
      }
    }
    const members = [...leader.conf.voters, ...leader.conf.learners]
    const lagging = members.filter(id => {
      const node = this.nodes.get(id)
      return node !== undefined && this.alive(node) && node.machine.get('probe') === undefined
    })
    if (!this.probeApplied || lagging.length > 0) {
      this.checker.violations.push({ atMs: this.nowMs, property: 'liveness', detail: `after healing, the probe write did not reach ${lagging.join(', ') || 'anyone'} (leader ${leader.id})` })
    }
  }
}

/** The store a snapshot holds (a new node's empty snapshot holds an empty store). */
function machineFrom (data: Uint8Array): StoreStateMachine {
  return data.byteLength === 0 ? new StoreStateMachine() : StoreStateMachine.fromData(storeCodec.decodeData(data))
}

function fingerprint (machine: StoreStateMachine): string {
  return fingerprintStore(machine.toData())
}
