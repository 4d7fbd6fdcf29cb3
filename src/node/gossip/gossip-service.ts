import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { NodeId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import { galaxy } from '../../proto/gen/gossip.js'
import { DecodeError } from '../decode-error.js'
import type { Host } from '../net/host.js'
import { fromAgentReportMessage, toAgentReportMessage } from './agent-report-codec.js'
import { LivenessTable, type Liveness, type LivenessEntry, type NodeReport } from './liveness.js'
import { failReport, readInteger } from './report-decode.js'

/** The defaults of `GossipServiceInit`. */
export const gossipDefaults = {
  /** Versioned: a change of `NodeReport` that old nodes cannot read gets a new topic. */
  topic: 'galaxy/reports/1',
  intervalMs: 1000
} as const

/** Named bounds of the gossip service. */
export const gossipLimits = {
  /** An encoded report; a larger one is malformed when received and not published when built. */
  maxReportBytes: 64 * 1024
} as const

/** What a node says about itself; the service adds its id and sequence. */
export type ReportContent = Omit<NodeReport, 'sequence' | 'id'>

/** Counters of the gossip service, for metrics and tests. */
export interface GossipCounters {
  /** Own reports handed to gossipsub. */
  published: number
  /** Own reports that had agent container entries dropped to fit `gossipLimits.maxReportBytes`. */
  trimmed: number
  /** Authentic, well-formed reports of other nodes, newer or not. */
  received: number
  /** Received reports the table already had something newer for (or a duplicate of). */
  stale: number
  /** Messages on the topic that are not a `NodeReport` (or are larger than the bound). */
  malformed: number
  /** Messages unsigned, or signed by a peer other than the node the report names. */
  forged: number
}

/** What a gossip service is made of. */
export interface GossipServiceInit {
  /** A started host; its gossipsub must allow publishing to zero topic peers (`createHost` does). */
  readonly host: Host
  readonly topic?: string
  /** How often the node publishes its report. */
  readonly intervalMs?: number
  /** Silence after which a node is suspect (`LivenessTable` default: 3000). */
  readonly suspectAfterMs?: number
  /** Silence after which a node is dead (`LivenessTable` default: 10000). */
  readonly deadAfterMs?: number
  /** The most nodes kept (`LivenessTable` default: 10000). */
  readonly maxNodes?: number
  /**
   * The node's current report, called before every publish. `uptimeMs` must be the time since
   * this process started: receivers recognise a restart by it.
   */
  readonly report: () => ReportContent
  readonly logger: Logger
}

/**
 * Publishes this node's signed report on a gossipsub topic every `intervalMs` and keeps the latest
 * report of every node heard from, with its liveness (a `LivenessTable` on `performance.now()`).
 * A received message counts only when gossipsub verified its signature, it decodes as a
 * `NodeReport`, and its signer's peer id is the report's `id`; anything else is rejected in
 * gossipsub's topic validator, so it is neither kept nor forwarded. The node's own report is kept
 * too (gossipsub does not deliver our own messages), so `list()` includes this node.
 */
export class GossipService {
  readonly topic: string
  readonly intervalMs: number
  /** This node's id: its host's peer id. */
  readonly id: NodeId
  readonly counters: GossipCounters = { published: 0, trimmed: 0, received: 0, stale: 0, malformed: 0, forged: 0 }
  private readonly host: Host
  private readonly report: () => ReportContent
  private readonly logger: Logger
  private readonly table: LivenessTable
  private timer: ReturnType<typeof setInterval> | undefined
  private isPublishing = false
  private lastSequence = 0

  constructor (init: GossipServiceInit) {
    this.host = init.host
    this.topic = init.topic ?? gossipDefaults.topic
    this.intervalMs = init.intervalMs ?? gossipDefaults.intervalMs
    this.report = init.report
    this.logger = init.logger.child({ component: 'gossip' })
    this.id = init.host.peerId.toString() as NodeId
    this.table = new LivenessTable({ suspectAfterMs: init.suspectAfterMs, deadAfterMs: init.deadAfterMs, maxNodes: init.maxNodes })
  }

  /** Whether the service is started. */
  get isStarted (): boolean {
    return this.timer !== undefined
  }

  /** Subscribes to the topic and publishes now and every `intervalMs` until `stop`. Idempotent. */
  start (): void {
    if (this.timer !== undefined) return
    const pubsub = this.host.services.pubsub
    pubsub.topicValidators.set(this.topic, (peer, message) => this.validate(peer, message))
    pubsub.subscribe(this.topic)
    this.timer = setInterval(() => { void this.publish() }, this.intervalMs)
    void this.publish()
  }

  /** Stops publishing and unsubscribes; the table keeps what it knew. Idempotent. */
  stop (): void {
    if (this.timer === undefined) return
    clearInterval(this.timer)
    this.timer = undefined
    const pubsub = this.host.services.pubsub
    pubsub.topicValidators.delete(this.topic)
    try {
      pubsub.unsubscribe(this.topic)
    } catch (error) {
      // The host stopped first: its gossipsub has no subscriptions left.
      this.logger.debug('unsubscribe failed', { error: (error as Error).message })
    }
  }

  /** Every node heard from (this one included), dead ones too, ordered by id. */
  list (): LivenessEntry[] {
    return this.table.list(performance.now())
  }

  /** A node's liveness; undefined when it was never heard from (or forgotten). */
  state (id: NodeId): Liveness | undefined {
    return this.table.state(id, performance.now())
  }

  /** A node's latest report, liveness and silence; undefined when it was never heard from. */
  get (id: NodeId): LivenessEntry | undefined {
    return this.table.get(id, performance.now())
  }

  /** Drops a node from the table (one removed from the cluster); it returns if it reports again. */
  forget (id: NodeId): boolean {
    return this.table.forget(id)
  }

  /**
   * Builds, keeps and publishes one report. At most one publish is in flight: a tick that finds
   * the previous one still running is skipped.
   */
  private async publish (): Promise<void> {
    if (this.timer === undefined || this.isPublishing) return
    this.isPublishing = true
    try {
      // Starting from the wall clock keeps the sequence rising across restarts (see LivenessTable).
      this.lastSequence = Math.max(Date.now(), this.lastSequence + 1)
      const full: NodeReport = { ...this.report(), id: this.id, sequence: this.lastSequence }
      const { report, bytes } = encodeFittingReport(full)
      // Kept as published, so this node lists itself the way every other node sees it.
      this.table.record(report, performance.now())
      if (report !== full) {
        this.counters.trimmed++
        this.logger.debug('report trimmed to fit', { containers: full.agent?.containers.length, kept: report.agent?.containers.length, maxBytes: gossipLimits.maxReportBytes })
      }
      if (bytes.length > gossipLimits.maxReportBytes) {
        this.logger.error('report too large to publish', { bytes: bytes.length, maxBytes: gossipLimits.maxReportBytes })
        return
      }
      await this.host.services.pubsub.publish(this.topic, bytes)
      this.counters.published++
    } catch (error) {
      this.logger.warn('report not published', { error: (error as Error).message })
    } finally {
      this.isPublishing = false
    }
  }

  /** gossipsub's topic validator: runs once per new message, after its signature was verified. */
  private validate (peer: PeerId, message: Message): TopicValidatorResult {
    if (message.type !== 'signed') {
      this.counters.forged++
      this.logger.debug('unsigned report', { peer: peer.toString() })
      return TopicValidatorResult.Reject
    }
    let report: NodeReport
    try {
      report = decodeNodeReport(message.data)
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error
      this.counters.malformed++
      this.logger.debug('malformed report', { from: message.from.toString(), peer: peer.toString(), error: error.message })
      return TopicValidatorResult.Reject
    }
    const from = message.from.toString()
    if (report.id !== from) {
      this.counters.forged++
      this.logger.debug('forged report', { from, claimed: report.id, peer: peer.toString() })
      return TopicValidatorResult.Reject
    }
    this.counters.received++
    if (this.table.record(report, performance.now())) return TopicValidatorResult.Accept
    // Not newer than what we have: neither deliver nor forward it, but do not blame the peer.
    this.counters.stale++
    return TopicValidatorResult.Ignore
  }
}

/** A report as bytes (`galaxy.NodeReport`). */
export function encodeNodeReport (report: NodeReport): Uint8Array {
  return galaxy.NodeReport.encode({
    id: report.id,
    name: report.name,
    addresses: [...report.addresses],
    api: report.api,
    roles: [...report.roles],
    pool: report.pool,
    labels: { ...report.labels },
    seed: report.seed,
    capacity: { cpuCores: report.capacity.cpuCores, memoryBytes: report.capacity.memoryBytes, diskBytes: report.capacity.diskBytes },
    uptimeMs: report.uptimeMs,
    sequence: report.sequence,
    agent: report.agent === undefined ? null : toAgentReportMessage(report.agent)
  }).finish()
}

/**
 * A report and its bytes, made to fit `gossipLimits.maxReportBytes` if dropping agent container
 * entries can do it: the most entries from the front of `agent.containers` that fit are kept, and
 * the agent's totals (reserved, allocated, usage) always stay, since the ResMan places by those.
 * Dropping a few list entries is the smallest change that keeps a busy node publishing (a report
 * over the bound is not published at all, and its node would turn suspect, then dead). A receiver
 * cannot tell the list was cut. The report is returned unchanged (the same object) when it fits
 * or has no container entries to drop; the bytes can still be over the bound when the rest of the
 * report is, and the caller must check.
 */
export function encodeFittingReport (report: NodeReport): { report: NodeReport, bytes: Uint8Array } {
  const bytes = encodeNodeReport(report)
  const agent = report.agent
  if (bytes.length <= gossipLimits.maxReportBytes || agent === undefined || agent.containers.length === 0) return { report, bytes }
  const keeping = (count: number): NodeReport => ({ ...report, agent: { ...agent, containers: agent.containers.slice(0, count) } })
  // A binary search over how many entries to keep, one encoding a step: `over` is a count known
  // not to fit; `fits` is the largest known to fit, or 0 (which may not fit either: see above).
  let fits = 0
  let over = agent.containers.length
  while (over - fits > 1) {
    const middle = Math.floor((fits + over) / 2)
    if (encodeNodeReport(keeping(middle)).length <= gossipLimits.maxReportBytes) fits = middle
    else over = middle
  }
  const trimmed = keeping(fits)
  return { report: trimmed, bytes: encodeNodeReport(trimmed) }
}

/**
 * Reads a report; throws `DecodeError` (and nothing else) on bytes that are not one: too large,
 * not protobuf, without an id or capacity, with an integer at or past 2^53, or with an agent part
 * that `fromAgentReportMessage` refuses. `agent` is left out when the report has none. It does not
 * check who sent it: the caller compares `id` with the signer.
 */
export function decodeNodeReport (bytes: Uint8Array): NodeReport {
  if (bytes.length > gossipLimits.maxReportBytes) failReport(`${bytes.length} bytes is over the bound of ${gossipLimits.maxReportBytes}`)
  let wire: galaxy.NodeReport
  try {
    wire = galaxy.NodeReport.decode(bytes)
  } catch (error) {
    throw new DecodeError('node report: not a NodeReport', { cause: error })
  }
  if (wire.id === undefined || wire.id === '') failReport('no id')
  const capacity = wire.capacity
  if (capacity === undefined || capacity === null) failReport('no capacity')
  const agent = wire.agent === undefined || wire.agent === null ? undefined : fromAgentReportMessage(wire.agent)
  return {
    id: wire.id as NodeId,
    name: wire.name ?? '',
    addresses: [...(wire.addresses ?? [])],
    api: wire.api ?? '',
    roles: [...(wire.roles ?? [])],
    pool: wire.pool ?? '',
    labels: Object.fromEntries(Object.entries(wire.labels ?? {})),
    seed: wire.seed === true,
    capacity: {
      cpuCores: readInteger(capacity.cpuCores, 'cpuCores'),
      memoryBytes: readInteger(capacity.memoryBytes, 'memoryBytes'),
      diskBytes: readInteger(capacity.diskBytes, 'diskBytes')
    },
    uptimeMs: readInteger(wire.uptimeMs, 'uptimeMs'),
    sequence: readInteger(wire.sequence, 'sequence'),
    ...(agent === undefined ? {} : { agent })
  }
}
