import { CoalescedRun } from '../../lib/coalesced-run.js'
import type { JobId, NodeId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import { placementKey, placementsPrefix } from '../../roles/agent/placement.js'
import { encodeJobRecord, jobKey, jobsPrefix, withEvent, type JobRecord } from '../../roles/job/job-record.js'
import { jobPodsPrefix } from '../../roles/job/pod-record.js'
import { planContainers, type NodeState, type ResManAction } from '../../roles/resman/plan-containers.js'
import { parseUnplacedRecord, unplacedKey, unplacedPrefix } from '../../roles/resman/unplaced.js'
import { lockKey, storeLimits } from '../../store/state-machine.js'
import type { TxnOp } from '../../store/types.js'
import { encodePlacement } from '../agent/placement-codec.js'
import type { LivenessEntry } from '../gossip/liveness.js'
import type { RouterStore } from '../router-store.js'
import { readJobs, readNodes, readPlacements } from './cluster-reads.js'
import { fenced, type RoleLease } from './role-lease.js'

/** The lock whose holder is the cluster's one active ResMan. */
export const resManLock = 'resman'

/** Named timings and thresholds of the ResMan. */
export const resManTimings = {
  stepMs: 1000,
  /** A node silent this long is dead and its pods go elsewhere (Galaxy's agent timeout); `galaxy up --dead-timeout`. */
  deadAfterMs: 30_000,
  /** Safe mode ends once this share of the registered agents reported, or after the dead timeout. */
  safeModeShare: 0.85
} as const

const encoder = new TextEncoder()

/**
 * The ResMan role of a node: it stands by until it holds the `resman` lock, then every second
 * (and at once when a job or placement changes) reads the jobs, the placements, the registry and
 * the agents' gossip reports, runs `planContainers`, and writes the plan: placements put and
 * deleted, finished jobs, and the pods it cannot place — every write guarded by its fencing token,
 * so that a deposed ResMan changes nothing. It starts in safe mode (no pod moved or placed) until
 * most agents have reported.
 */
export class NodeResMan {
  private token: number | undefined
  private activeSinceMs = 0
  private safeMode = true
  private seed = 0
  private timer: NodeJS.Timeout | undefined
  private readonly steps = new CoalescedRun(async () => { await this.step() }, error => {
    this.deps.logger.debug('resman step failed', { error: error.message })
  })
  private readonly watching = new AbortController()

  constructor (private readonly deps: {
    readonly store: RouterStore
    readonly lease: RoleLease
    readonly self: NodeId
    readonly gossip: () => readonly LivenessEntry[]
    readonly deadAfterMs: number
    readonly newSuffix: () => string
    readonly logger: Logger
  }) {
    deps.lease.onLost(() => { this.demote('its lease expired') })
  }

  start (): void {
    this.timer = setInterval(() => { this.kick() }, resManTimings.stepMs)
    for (const prefix of [jobsPrefix, placementsPrefix]) void this.deps.store.watch(prefix, () => { if (this.token !== undefined) this.kick() }, this.watching.signal)
    this.kick()
  }

  stop (): void {
    clearInterval(this.timer)
    this.watching.abort()
    this.token = undefined
  }

  get active (): boolean {
    return this.token !== undefined
  }

  /** Runs a step now, or right after the one that runs. */
  kick (): void {
    this.steps.kick()
  }


  private async step (): Promise<void> {
    const { store, self } = this.deps
    const holder = await store.get(lockKey(resManLock))
    if (this.token === undefined) {
      if (holder !== undefined) return
      const token = await store.tryLock(resManLock, self, await this.deps.lease.current())
      if (token === undefined) return
      this.token = token
      this.activeSinceMs = Date.now()
      this.safeMode = true
      this.deps.logger.info('resman is active', { token })
    } else if (holder === undefined || holder.modRevision !== this.token) {
      this.demote('another node holds the lock')
      return
    }
    const [jobs, placements, registry, unplaced] = await Promise.all([readJobs(store), readPlacements(store), readNodes(store), store.list(unplacedPrefix)])
    const nodes = this.nodeStates(registry.filter(node => node.roles.includes('agent')).map(node => node.id as NodeId))
    this.leaveSafeMode(nodes)
    const plan = planContainers({ jobs: jobs.map(each => each.record), placements, nodes }, { seed: this.seed++, safeMode: this.safeMode, newSuffix: this.deps.newSuffix })
    for (const action of plan.actions) {
      if (action.type === 'unplace') this.deps.logger.info('unplacing a container', { node: action.node, container: action.container, reason: action.reason })
      if (action.type === 'place') this.deps.logger.debug('placing a container', { node: action.node, container: action.placement.container })
    }
    if (!await this.writeAll(plan.actions.flatMap(action => placementOps(action)))) return
    for (const action of plan.actions) {
      if (action.type !== 'finishJob') continue
      const found = jobs.find(each => each.record.name === action.job)
      if (found !== undefined) await this.finishJob(found.record, found.modRevision)
    }
    const nowMs = Date.now()
    const before = new Map(unplaced.map(each => [each.key.slice(unplacedPrefix.length), parseUnplacedRecord(each.value)]))
    const unplacedOps: TxnOp[] = []
    for (const [job, failure] of plan.unplaced) {
      const known = before.get(job)
      if (known !== undefined && known.pods === failure.pods && JSON.stringify(known.excluded) === JSON.stringify(failure.excluded)) continue
      unplacedOps.push({ type: 'put', key: unplacedKey(job), value: encoder.encode(JSON.stringify({ ...failure, atMs: nowMs })) })
    }
    for (const job of before.keys()) if (!plan.unplaced.has(job as JobId)) unplacedOps.push({ type: 'delete', key: unplacedKey(job as JobId) })
    await this.writeAll(unplacedOps)
  }

  /** Writes `ops` in as few fenced transactions as the store allows; false once one is refused. */
  private async writeAll (ops: readonly TxnOp[]): Promise<boolean> {
    for (let start = 0; start < ops.length; start += storeLimits.opsPerTxn - 1) {
      if (!await this.write(ops.slice(start, start + storeLimits.opsPerTxn - 1), [])) return false
    }
    return true
  }

  /** What the ResMan knows of each agent node: its gossip report, or nothing yet (dead once the ResMan waited the dead timeout). */
  private nodeStates (registered: readonly NodeId[]): NodeState[] {
    const heard = new Map(this.deps.gossip().map(entry => [entry.report.id, entry]))
    const waitedMs = Date.now() - this.activeSinceMs
    const ids = new Set<NodeId>([...registered, ...[...heard.values()].filter(entry => entry.report.roles.includes('agent')).map(entry => entry.report.id)])
    return [...ids].map(id => {
      const entry = heard.get(id)
      const agent = entry?.report.agent
      const capacity = entry?.report.capacity
      const liveness = entry === undefined
        ? (waitedMs > this.deps.deadAfterMs ? 'dead' : 'suspect')
        : entry.lastSeenMs > this.deps.deadAfterMs ? 'dead' : entry.state === 'alive' ? 'alive' : 'suspect'
      return {
        id,
        pool: entry?.report.pool ?? '',
        labels: entry?.report.labels ?? {},
        liveness,
        health: agent?.health ?? 'unhealthy',
        allocatable: {
          cpuMillicores: Math.max(0, (capacity?.cpuCores ?? 0) * 1000 - (agent?.reserved.cpuMillicores ?? 0)),
          memoryBytes: Math.max(0, (capacity?.memoryBytes ?? 0) - (agent?.reserved.memoryBytes ?? 0)),
          diskBytes: Math.max(0, (capacity?.diskBytes ?? 0) - (agent?.reserved.diskBytes ?? 0))
        },
        containers: agent === undefined ? undefined : new Map(agent.containers.map(container => [container.id, { state: container.state, phase: container.phase, message: container.message }]))
      }
    })
  }

  /**
   * Safe mode ends when every agent is accounted for — reported, or silent past the dead timeout
   * on this node's gossip (a node this ResMan never heard of counts only once it waited that
   * long) — or when most agents reported, or after the dead timeout in any case. A ResMan that
   * took over from one whose node died so leaves it at once, and that node's pods move.
   */
  private leaveSafeMode (nodes: readonly NodeState[]): void {
    if (!this.safeMode) return
    const reported = nodes.filter(node => node.liveness === 'alive' && node.containers !== undefined).length
    const dead = nodes.filter(node => node.liveness === 'dead').length
    const waitedMs = Date.now() - this.activeSinceMs
    if (reported + dead === nodes.length || reported >= Math.ceil(nodes.length * resManTimings.safeModeShare) || waitedMs >= this.deps.deadAfterMs) {
      this.safeMode = false
      this.deps.logger.info('resman left safe mode', { reported, dead, agents: nodes.length, waitedMs })
    }
  }

  /** A destroying job with no placement left: finished (stop), or deleted with its records (remove). */
  private async finishJob (record: JobRecord, modRevision: number): Promise<void> {
    const ops: TxnOp[] = record.removing
      ? [{ type: 'delete', key: jobKey(record.name) }, { type: 'delete', key: jobPodsPrefix(record.name), prefix: true }, { type: 'delete', key: unplacedKey(record.name) }]
      : [{ type: 'put', key: jobKey(record.name), value: encodeJobRecord(withEvent({ ...record, state: 'finished' }, { atMs: Date.now(), event: 'finished', version: record.current.version, detail: '' })) }, { type: 'delete', key: jobPodsPrefix(record.name), prefix: true }]
    const done = await this.write(ops, [{ target: 'modRevision', key: jobKey(record.name), op: '=', value: modRevision }])
    if (done) this.deps.logger.info(record.removing ? 'job removed' : 'job finished', { job: record.name })
  }

  /** A write guarded by the fencing token; false when it did not apply (the token no longer holds: this ResMan is deposed). */
  private async write (ops: readonly TxnOp[], compares: Parameters<RouterStore['txn']>[0]): Promise<boolean> {
    const token = this.token
    if (token === undefined) return false
    const written = await this.deps.store.txn([fenced(resManLock, token), ...compares], ops)
    if (written.succeeded) return true
    const holder = await this.deps.store.get(lockKey(resManLock))
    if (holder?.modRevision !== token) this.demote('its fencing token no longer holds')
    return false
  }

  private demote (why: string): void {
    if (this.token === undefined) return
    this.token = undefined
    this.deps.logger.warn('resman stands by', { why })
  }
}

function placementOps (action: ResManAction): TxnOp[] {
  switch (action.type) {
    case 'place': return [{ type: 'put', key: placementKey(action.node, action.placement.container), value: encodePlacement(action.placement) }]
    case 'unplace': return [{ type: 'delete', key: placementKey(action.node, action.container) }]
    case 'finishJob': return []
  }
}
