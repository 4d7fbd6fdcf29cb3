import { assert } from '../../lib/assert.js'
import type { NodeId } from '../../lib/ids.js'
import type { AgentReport } from '../../roles/agent/agent-report.js'

/** What a node has to offer, before anything is allocated. */
export interface NodeCapacity {
  readonly cpuCores: number
  readonly memoryBytes: number
  /** The size of the filesystem that holds the node's data dir. */
  readonly diskBytes: number
}

/** The report every node publishes on gossip every second (`galaxy.NodeReport` on the wire). */
export interface NodeReport {
  /** The publisher's peer id; a receiver keeps a report only when its signer has this id. */
  readonly id: NodeId
  readonly name: string
  /** Multiaddrs other nodes can dial. */
  readonly addresses: readonly string[]
  /** The HTTP API address, HOST:PORT; empty when the node serves none. */
  readonly api: string
  readonly roles: readonly string[]
  readonly pool: string
  readonly labels: Readonly<Record<string, string>>
  /** Whether the node is a voting member of the Raft group. */
  readonly seed: boolean
  readonly capacity: NodeCapacity
  /** Milliseconds since the publishing process started: how a restart is recognised. */
  readonly uptimeMs: number
  /** Strictly increasing per publisher, so that late and duplicate reports are ignored. */
  readonly sequence: number
  /**
   * What the node's agent reports; absent on a node without the agent role. Its container list
   * may be cut short to keep the report within the gossip bound (see `encodeFittingReport`).
   */
  readonly agent?: AgentReport | undefined
}

/** How recently a node was heard from: alive, then suspect, then dead as its silence grows. */
export type Liveness = 'alive' | 'suspect' | 'dead'

/** One node as a table sees it at a moment. */
export interface LivenessEntry {
  readonly report: NodeReport
  readonly state: Liveness
  /** Milliseconds since its latest accepted report. */
  readonly lastSeenMs: number
}

/** When a silent node turns suspect and dead, and how many nodes a table keeps. */
export interface LivenessOptions {
  /** Silence after which a node is suspect. */
  readonly suspectAfterMs?: number
  /** Silence after which a node is dead; at least `suspectAfterMs`. */
  readonly deadAfterMs?: number
  /** The most nodes kept; see `LivenessTable.record` for what happens past it. */
  readonly maxNodes?: number
}

/** The defaults of `LivenessOptions`. */
export const livenessDefaults = {
  suspectAfterMs: 3000,
  deadAfterMs: 10_000,
  maxNodes: 10_000
} as const

interface Slot {
  readonly report: NodeReport
  /** When the report was accepted, on the caller's clock. */
  readonly receivedMs: number
}

/**
 * The latest report of every node heard from, and how long each has been silent. Pure and
 * deterministic: time comes in as `nowMs` (any monotonic clock, never going back between calls),
 * nothing here reads a clock or does I/O.
 *
 * Which report wins. A report replaces the kept one of its node when either
 * - its `sequence` is greater (the normal case: the same process, one report later; publishers
 *   start their sequence from their wall clock in ms, so a restarted node usually continues above
 *   its previous incarnation too), or
 * - its `uptimeMs` is shorter than the silence since the kept report was accepted: the publisher
 *   has been running for less time than we have not heard from it, so it is a new process that
 *   started after that report was sent. This catches a restart whose sequence went down (a wall
 *   clock set back, e.g. a board without a battery-backed clock before NTP).
 * Anything else (a duplicate, a report delayed behind a later one) is ignored, except a report
 * that was delayed by longer than its publisher had been running when it sent it: the second rule
 * cannot tell that one from a restart, and the publisher's next report puts the table right.
 *
 * Known limit: if a restarted node's sequence went down *and* a delayed report of its previous
 * incarnation then arrives, that stale report wins and the new incarnation's reports are ignored
 * until its sequence passes the stale one. Both conditions together are not expected in practice.
 */
export class LivenessTable {
  readonly suspectAfterMs: number
  readonly deadAfterMs: number
  readonly maxNodes: number
  /** By id, in the order reports were accepted: the first entry is the longest silent. */
  private readonly slots = new Map<NodeId, Slot>()
  private latestNowMs = 0

  constructor (options: LivenessOptions = {}) {
    this.suspectAfterMs = options.suspectAfterMs ?? livenessDefaults.suspectAfterMs
    this.deadAfterMs = options.deadAfterMs ?? livenessDefaults.deadAfterMs
    this.maxNodes = options.maxNodes ?? livenessDefaults.maxNodes
    assert(Number.isFinite(this.suspectAfterMs) && this.suspectAfterMs > 0, 'liveness: suspectAfterMs must be positive', { suspectAfterMs: this.suspectAfterMs })
    assert(Number.isFinite(this.deadAfterMs) && this.deadAfterMs >= this.suspectAfterMs, 'liveness: deadAfterMs must be at least suspectAfterMs', { suspectAfterMs: this.suspectAfterMs, deadAfterMs: this.deadAfterMs })
    assert(Number.isSafeInteger(this.maxNodes) && this.maxNodes > 0, 'liveness: maxNodes must be a positive integer', { maxNodes: this.maxNodes })
  }

  /** How many nodes the table holds. */
  get size (): number {
    return this.slots.size
  }

  /**
   * Keeps `report` as its node's latest when it wins over the kept one (see the class comment)
   * and says whether it did. A new node arriving at a full table (`maxNodes`) evicts the longest
   * silent node if that one is dead; when none is dead the newcomer is refused (returns false),
   * because live nodes matter more than one more node.
   */
  record (report: NodeReport, nowMs: number): boolean {
    this.advance(nowMs)
    assert(report.id.length > 0, 'liveness: a report without an id')
    assert(Number.isSafeInteger(report.sequence) && report.sequence >= 0, 'liveness: a report sequence must be a non-negative safe integer', { sequence: report.sequence })
    assert(Number.isSafeInteger(report.uptimeMs) && report.uptimeMs >= 0, 'liveness: a report uptime must be a non-negative safe integer', { uptimeMs: report.uptimeMs })
    const kept = this.slots.get(report.id)
    if (kept !== undefined) {
      const isNewer = report.sequence > kept.report.sequence
      const isRestart = report.uptimeMs < nowMs - kept.receivedMs
      if (!isNewer && !isRestart) return false
      // Deleting first moves the node to the end of the map's order: most recently heard.
      this.slots.delete(report.id)
    } else if (this.slots.size >= this.maxNodes) {
      const [oldestId, oldest] = this.slots.entries().next().value as [NodeId, Slot]
      if (this.stateOf(oldest, nowMs) !== 'dead') return false
      this.slots.delete(oldestId)
    }
    this.slots.set(report.id, { report, receivedMs: nowMs })
    return true
  }

  /** The liveness of a node, or undefined when the table does not hold it. */
  state (id: NodeId, nowMs: number): Liveness | undefined {
    this.advance(nowMs)
    const slot = this.slots.get(id)
    return slot === undefined ? undefined : this.stateOf(slot, nowMs)
  }

  /** One node's latest report, liveness and silence; undefined when the table does not hold it. */
  get (id: NodeId, nowMs: number): LivenessEntry | undefined {
    this.advance(nowMs)
    const slot = this.slots.get(id)
    return slot === undefined ? undefined : this.entryOf(slot, nowMs)
  }

  /** Every node held, dead ones included, ordered by id. */
  list (nowMs: number): LivenessEntry[] {
    this.advance(nowMs)
    return [...this.slots.values()]
      .map(slot => this.entryOf(slot, nowMs))
      .sort((a, b) => a.report.id < b.report.id ? -1 : a.report.id > b.report.id ? 1 : 0)
  }

  /** Drops a node (one removed from the cluster); says whether the table held it. */
  forget (id: NodeId): boolean {
    return this.slots.delete(id)
  }

  private entryOf (slot: Slot, nowMs: number): LivenessEntry {
    return { report: slot.report, state: this.stateOf(slot, nowMs), lastSeenMs: nowMs - slot.receivedMs }
  }

  private stateOf (slot: Slot, nowMs: number): Liveness {
    const silenceMs = nowMs - slot.receivedMs
    if (silenceMs >= this.deadAfterMs) return 'dead'
    if (silenceMs >= this.suspectAfterMs) return 'suspect'
    return 'alive'
  }

  /** Time never goes back: a caller that passes an earlier `nowMs` than before has a bug. */
  private advance (nowMs: number): void {
    assert(Number.isFinite(nowMs) && nowMs >= this.latestNowMs, 'liveness: nowMs went back', { nowMs, latestNowMs: this.latestNowMs })
    this.latestNowMs = nowMs
  }
}
