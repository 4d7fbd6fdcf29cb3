import type { Clock, Timer } from '../../lib/clock.js'
import type { ContainerId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import type { PodCommand, PodStatus } from '../appworker/pod-status.js'
import { allocated, type Capacity } from './allocation.js'
import { cpuRate, hostHealth, type AgentReport, type ContainerReport, type HostFacts } from './agent-report.js'
import { placementEnvelope, placementRequest, type Placement } from './placement.js'
import { reconcileContainers, type ActualContainer, type AgentAction, type ContainerState, type DesiredContainer } from './reconcile.js'

/** A process known by its pid and its start time, so that a recycled pid is never taken for it. */
export interface ProcessRef {
  readonly pid: number
  readonly startTicks: number
}

/** A container as the agent's local database keeps it. */
export interface ContainerRecord {
  readonly placement: Placement
  readonly state: ContainerState
  /** Its AppWorker, once started. */
  readonly root?: ProcessRef | undefined
  /** For a `stopping` one: when, on the wall clock, it is destroyed even if its tasks did not stop. */
  readonly stopDeadlineMs?: number | undefined
  readonly stopSinceMs?: number | undefined
  /** Why it failed; empty otherwise. */
  readonly message: string
}

/**
 * The placements the cluster wants on this node; throws when the store cannot be read, or once
 * `signal` aborts (the agent stops: a read that waits for a quorum must not hold the stop up).
 */
export interface PlacementSource {
  list(signal: AbortSignal): Promise<Placement[]>
}

/** The containers of this host (the runtime); every method throws an Error with a one-line message. */
export interface ContainerHost {
  readonly isolation: { readonly level: 'full' | 'degraded', readonly reasons: readonly string[] }
  /** Makes the container of a placement (or completes a half-made one). */
  create(placement: Placement): Promise<void>
  /** Starts its AppWorker, detached, in the container's root cgroup. */
  startRoot(placement: Placement): Promise<ProcessRef>
  isAlive(root: ProcessRef): Promise<boolean>
  /** Kills everything in it and removes it; what is gone is a no-op. */
  destroy(id: ContainerId): Promise<void>
  /** The containers on the host, made by this agent or not (destroyed ones whose directory is kept are not). */
  list(): Promise<ContainerId[]>
  /** Deletes the kept directories of destroyed containers whose time is up. */
  collectGarbage(): Promise<void>
  /** Cumulative cpu time and current memory of the container; undefined on a degraded host. */
  usage(id: ContainerId): Promise<{ cpuUs: number, memoryBytes: number } | undefined>
  facts(): Promise<HostFacts>
}

/** The agent's local database of containers. */
export interface ContainerDb {
  load(): Promise<ContainerRecord[]>
  put(record: ContainerRecord): Promise<void>
  delete(id: ContainerId): Promise<void>
}

/** One pull as the relay hands it over. */
export interface RelayedPull {
  readonly appWorkerPid: number
  readonly status: PodStatus
}

/** Serves each container's pull socket, answering with what the agent says. */
export interface PullRelay {
  open(id: ContainerId, answer: (pull: RelayedPull) => Promise<PodCommand>): Promise<void>
  close(id: ContainerId): Promise<void>
}

/**
 * Asks the AppMaster of a container's job what its pod should do (wherever that AppMaster runs).
 * Undefined when the placement belongs to no job the cluster knows: its pod runs the description
 * in the placement, as written.
 */
export interface PodDirector {
  direct(placement: Placement, status: PodStatus): Promise<PodCommand | undefined>
}

/** Named periods and bounds of the agent. */
export const agentTimings = {
  reconcileMs: 1000,
  /** How often every container's cgroups and the host's disk are read, apart from the steps. */
  measureMs: 5000,
  /** How often a step deletes the kept directories of destroyed containers whose time is up. */
  collectGarbageMs: 60_000,
  /** Beyond its tasks' stop timeouts, the time a stopping pod gets for its pulls and stop commands. */
  stopGraceMs: 10_000,
  /**
   * A running container whose AppWorker has not pulled for this long (it pulls every second) is
   * failed and destroyed, so that the ResMan places its pod again: a hung AppWorker is lost as a
   * dead node is (the node's `--reschedule-after` sets it). Before its first pull an AppWorker
   * gets `firstPullFactor` times as long: on a busy host a hundred of them may be starting.
   */
  silentMs: 30_000,
  firstPullFactor: 4
} as const

/** Why a container whose root process ended is failed. */
const appWorkerDied = 'its AppWorker died'

/** Why a container whose root process stopped pulling is failed. */
function appWorkerSilent (silentMs: number): string {
  return `its AppWorker did not pull for ${Math.round(silentMs / 1000)} s`
}

/** The task phases in which a task has no process and starts none. */
const quietTaskPhases: ReadonlySet<string> = new Set(['pending', 'stopped', 'finished', 'failed'])

/**
 * Whether a pod has nothing left running: every task is quiet. Decided from the tasks, not the
 * pod's phase, which says `failed` as soon as one task failed while others may still be stopping.
 */
function isQuiet (status: PodStatus): boolean {
  return status.phase !== 'stopping' && status.tasks.every(task => quietTaskPhases.has(task.phase))
}

/**
 * The agent's thin controller: every second (or when kicked) it reads the placements of this
 * node, checks that each container's AppWorker still lives, and runs what `reconcileContainers`
 * says. The local database is written before each step that changes the host, so that a node
 * killed at any line finds, on restart, every container it made: running ones are re-adopted
 * (same AppWorker, by pid and start time), half-made ones destroyed and made again. When the
 * store cannot be read, nothing that runs is touched.
 */
export class AgentController {
  private readonly records = new Map<ContainerId, ContainerRecord>()
  private readonly statuses = new Map<ContainerId, { status: PodStatus, atMs: number }>()
  private readonly refused = new Map<ContainerId, { placement: Placement, reason: string }>()
  private readonly samples = new Map<ContainerId, { cpuUs: number, atMs: number, cpuMillicores: number, memoryBytes: number }>()
  /** When (monotonic) each open container's AppWorker last pulled, or its relay was opened. */
  private readonly heard = new Map<ContainerId, number>()
  private lastStepMs: number | undefined
  private facts: HostFacts = { diskFreeBytes: 0, diskTotalBytes: 0, missingCgroups: [] }
  private timer: Timer | undefined
  private measureTimer: Timer | undefined
  private measuring: Promise<void> = Promise.resolve()
  private lastCollectMs = -Infinity
  private running = false
  /** Aborted by `stop`: ends the placement read a step is waiting on. */
  private readonly stopped = new AbortController()
  private queued = false
  private stepping: Promise<void> = Promise.resolve()

  constructor (private readonly components: {
    readonly source: PlacementSource
    readonly host: ContainerHost
    readonly db: ContainerDb
    readonly relay: PullRelay
    /** Who answers the pulls of running pods; without one, every pod runs its placement's description. */
    readonly director?: PodDirector | undefined
    readonly capacity: Capacity
    readonly clock: Clock
    readonly logger: Logger
    /** See `agentTimings.silentMs`, its default. */
    readonly silentMs?: number | undefined
  }) {}

  /** Loads the database, re-adopts the containers whose AppWorker lives, and starts the loop. */
  async start (): Promise<void> {
    const { db, host, logger } = this.components
    for (const record of await db.load()) this.records.set(record.placement.container, record)
    const adopted: string[] = []
    for (const [id, record] of this.records) {
      if (record.state !== 'running' && record.state !== 'stopping') continue
      if (record.root !== undefined && await host.isAlive(record.root)) {
        await this.openRelay(id)
        adopted.push(`${id}:${record.root.pid}`)
      } else {
        await this.save({ ...record, state: 'dead', message: appWorkerDied })
      }
    }
    // A container on the host that no record names was made by a node that died before it wrote one.
    for (const id of await host.list()) {
      if (this.records.has(id)) continue
      logger.warn('destroying a container no record names', { container: id })
      await host.destroy(id)
    }
    if (adopted.length > 0) logger.info('re-adopted containers', { containers: adopted.join(' ') })
    this.facts = await host.facts()
    this.running = true
    this.tick()
    this.measureTimer = this.components.clock.setTimer(agentTimings.measureMs, () => { this.measureNow() })
  }

  /** Stops the loop; containers and their AppWorkers keep running. */
  async stop (): Promise<void> {
    this.running = false
    this.stopped.abort()
    this.timer?.cancel()
    this.measureTimer?.cancel()
    await this.stepping
    await this.measuring
    for (const id of this.records.keys()) await this.components.relay.close(id).catch(() => undefined)
  }

  /** Runs a step soon (the placements changed, or a pod stopped). */
  kick (): void {
    if (this.queued || !this.running) return
    this.queued = true
    this.stepping = this.stepping.then(async () => {
      this.queued = false
      if (this.running) await this.step()
    }).catch(error => {
      this.components.logger.error('agent step failed', { error: (error as Error).message })
    })
  }

  /** Waits for the step and the measuring in flight (tests and benchmarks). */
  async settled (): Promise<void> {
    await this.stepping
    await this.measuring
  }

  /** The container records, for the node's API. */
  containers (): ContainerRecord[] {
    return [...this.records.values()]
  }

  /** The last status a container's AppWorker sent. */
  podStatus (id: ContainerId): PodStatus | undefined {
    return this.statuses.get(id)?.status
  }

  /** The agent's part of the node's gossip report. */
  report (): AgentReport {
    const { capacity, host } = this.components
    const health = hostHealth(this.facts)
    const held = [...this.records.values()].filter(record => record.state !== 'failed').map(record => placementRequest(record.placement))
    const containers: ContainerReport[] = []
    let cpu = 0
    let memory = 0
    for (const [id, record] of this.records) {
      const sample = this.samples.get(id)
      cpu += sample?.cpuMillicores ?? 0
      memory += sample?.memoryBytes ?? 0
      const status = this.statuses.get(id)?.status
      containers.push({
        id,
        job: record.placement.job,
        pod: record.placement.pod,
        state: record.state,
        version: record.placement.description.version,
        phase: status?.phase ?? 'unknown',
        message: record.message !== '' ? record.message : status?.message ?? '',
        cpuMillicores: sample?.cpuMillicores ?? 0,
        memoryBytes: sample?.memoryBytes ?? 0
      })
    }
    for (const [id, { placement, reason }] of this.refused) {
      containers.push({ id, job: placement.job, pod: placement.pod, state: 'refused', version: placement.description.version, phase: 'unknown', message: reason, cpuMillicores: 0, memoryBytes: 0 })
    }
    return {
      isolation: host.isolation.level,
      isolationReasons: host.isolation.reasons,
      health: health.health,
      problems: health.problems,
      reserved: capacity.reserved,
      allocated: allocated(held),
      usage: { cpuMillicores: cpu, memoryBytes: memory },
      containers
    }
  }

  private tick (): void {
    if (!this.running) return
    this.kick()
    this.timer = this.components.clock.setTimer(agentTimings.reconcileMs, () => { this.tick() })
  }

  private async step (): Promise<void> {
    const { source, host, capacity, logger } = this.components
    let placements: Placement[] | undefined
    try {
      placements = await source.list(this.stopped.signal)
    } catch (error) {
      // Stopped while the read waited: the containers stay as they are for the next start.
      if (!this.running) return
      logger.debug('placements cannot be read; keeping every container as it is', { error: (error as Error).message })
    }
    const silent = this.silentContainers(this.stepTime())
    for (const [id, record] of this.records) {
      if ((record.state === 'running' || record.state === 'stopping') && (record.root === undefined || !await host.isAlive(record.root))) {
        logger.warn('the AppWorker of a container died', { container: id, pid: record.root?.pid ?? 0 })
        await this.save({ ...record, state: 'dead', message: appWorkerDied })
      } else if (silent.has(id)) {
        logger.warn('the AppWorker of a container stopped pulling', { container: id, pid: record.root?.pid ?? 0, silentMs: this.silentMs })
        await this.save({ ...record, state: 'dead', message: appWorkerSilent(this.silentMs) })
      }
    }
    // Unreadable placements: every container is wanted as it is (a failed one stays failed).
    const wanted = placements ?? [...this.records.values()].map(record => record.placement)
    const byId = new Map(wanted.map(placement => [placement.container, placement]))
    const nowMs = this.components.clock.wallMs()
    const actions = reconcileContainers(wanted.map(desiredOf), [...this.records.values()].map(record => this.actualOf(record, nowMs)), capacity)
    if (placements !== undefined) for (const id of this.refused.keys()) if (!byId.has(id) || this.records.has(id)) this.refused.delete(id)
    for (const action of actions) {
      try {
        await this.apply(action, byId)
      } catch (error) {
        logger.error('agent action failed', { action: action.type, container: action.id, error: (error as Error).message })
      }
    }
    // In the step, not beside it: a container made again under the id of a destroyed one must not
    // lose its new directory to a collection that read the old one's marker.
    const monotonicMs = this.components.clock.monotonicMs()
    if (monotonicMs - this.lastCollectMs >= agentTimings.collectGarbageMs) {
      this.lastCollectMs = monotonicMs
      await host.collectGarbage().catch(error => { logger.warn('collecting kept container directories failed', { error: (error as Error).message }) })
    }
  }

  private get silentMs (): number {
    return this.components.silentMs ?? agentTimings.silentMs
  }

  /**
   * The running containers whose AppWorker has not pulled for `silentMs` (`firstPullFactor` times
   * that before its first pull). None when more than half of the running ones (and more than one)
   * are silent at once: then the host is overloaded or the relay broken, not each AppWorker, and
   * failing them all would only make it worse.
   */
  private silentContainers (nowMs: number): Set<ContainerId> {
    const running = [...this.records].filter(([, record]) => record.state === 'running')
    const silent = running.filter(([id]) => nowMs - (this.heard.get(id) ?? nowMs) >= this.silentMs * (this.statuses.has(id) ? 1 : agentTimings.firstPullFactor))
    if (silent.length > 1 && silent.length * 2 > running.length) {
      this.components.logger.warn('most AppWorkers stopped pulling at once: failing none', { silent: silent.length, running: running.length })
      return new Set()
    }
    return new Set(silent.map(([id]) => id))
  }

  /**
   * The monotonic time of this step. A node that itself stood still (stopped, starved) between
   * steps heard no pulls meanwhile: the silences are moved on by the time it stood still.
   */
  private stepTime (): number {
    const nowMs = this.components.clock.monotonicMs()
    const stoodStillMs = this.lastStepMs === undefined ? 0 : nowMs - this.lastStepMs - 2 * agentTimings.reconcileMs
    if (stoodStillMs > 0) for (const [id, atMs] of this.heard) this.heard.set(id, atMs + stoodStillMs)
    this.lastStepMs = nowMs
    return nowMs
  }

  private async apply (action: AgentAction, wanted: ReadonlyMap<ContainerId, Placement>): Promise<void> {
    const { host, logger, clock } = this.components
    const record = this.records.get(action.id)
    switch (action.type) {
      case 'create': {
        const placement = wanted.get(action.id)
        if (placement === undefined) return
        await this.create(placement)
        return
      }
      case 'update': {
        const placement = wanted.get(action.id)
        if (record === undefined || placement === undefined) return
        logger.info('updating pod in place', { container: action.id, version: placement.description.version })
        await this.save({ ...record, placement })
        return
      }
      case 'stop': {
        if (record === undefined) return
        const nowMs = clock.wallMs()
        const longest = Math.max(0, ...record.placement.description.tasks.map(task => task.stopTimeoutMs))
        logger.info('stopping container', { container: action.id, reason: action.reason })
        await this.save({ ...record, state: 'stopping', stopSinceMs: nowMs, stopDeadlineMs: nowMs + longest + agentTimings.stopGraceMs })
        return
      }
      case 'destroy': {
        if (record === undefined) return
        logger.info('destroying container', { container: action.id, reason: action.reason })
        await host.destroy(action.id)
        await this.components.relay.close(action.id)
        this.statuses.delete(action.id)
        this.samples.delete(action.id)
        this.heard.delete(action.id)
        if (action.reason === 'root process lost') await this.save({ ...record, state: 'failed', root: undefined })
        else await this.forget(action.id)
        return
      }
      case 'refuse': {
        const placement = wanted.get(action.id)
        if (placement === undefined) return
        if (this.refused.get(action.id)?.reason !== action.reason) logger.warn('refusing a placement', { container: action.id, reason: action.reason })
        this.refused.set(action.id, { placement, reason: action.reason })
        return
      }
      case 'forget':
        await this.forget(action.id)
    }
  }

  /** Records, makes, and starts the AppWorker of a container; a failure is recorded with its reason. */
  private async create (placement: Placement): Promise<void> {
    const { host, logger } = this.components
    const id = placement.container
    const record: ContainerRecord = { placement, state: 'creating', message: '' }
    await this.save(record)
    try {
      await host.create(placement)
      await this.openRelay(id)
      const root = await host.startRoot(placement)
      await this.save({ ...record, state: 'running', root })
      logger.info('container created', { container: id, job: placement.job, pod: placement.pod, appworker: root.pid })
    } catch (error) {
      const message = (error as Error).message
      logger.warn('container could not be made', { container: id, error: message })
      await host.destroy(id).catch(() => undefined)
      await this.components.relay.close(id).catch(() => undefined)
      await this.save({ ...record, state: 'failed', message })
    }
  }

  private async openRelay (id: ContainerId): Promise<void> {
    this.heard.set(id, this.components.clock.monotonicMs())
    await this.components.relay.open(id, pull => this.answer(id, pull))
  }

  /** The answer to a container's pull: its AppMaster's while it runs, stop once it must go. */
  private async answer (id: ContainerId, pull: RelayedPull): Promise<PodCommand> {
    const record = this.records.get(id)
    if (record === undefined) return { type: 'stop' }
    if (record.root !== undefined && pull.appWorkerPid !== record.root.pid) {
      this.components.logger.warn('a pull from a process that is not the container\'s AppWorker', { container: id, pid: pull.appWorkerPid })
      return { type: 'wait' }
    }
    this.statuses.set(id, { status: pull.status, atMs: this.components.clock.wallMs() })
    this.heard.set(id, this.components.clock.monotonicMs())
    if (record.state === 'stopping') {
      if (isQuiet(pull.status)) this.kick()
      return { type: 'stop' }
    }
    // While `creating`, the AppWorker may pull before its start is recorded: only a process in
    // the container can reach its socket, so it is this container's.
    if (record.state !== 'running' && record.state !== 'creating') return { type: 'wait' }
    const directed = await this.components.director?.direct(record.placement, pull.status)
    // The placement may have gone while the AppMaster answered: a container being stopped gets stop.
    if (this.records.get(id)?.state === 'stopping') return { type: 'stop' }
    return directed ?? { type: 'run', pod: record.placement.description }
  }

  private actualOf (record: ContainerRecord, nowMs: number): ActualContainer {
    const pulled = this.statuses.get(record.placement.container)
    const stopped = record.state === 'stopping' && pulled !== undefined && pulled.atMs >= (record.stopSinceMs ?? Infinity) && isQuiet(pulled.status)
    return {
      ...desiredOf(record.placement),
      state: record.state,
      stopDone: stopped || (record.state === 'stopping' && nowMs >= (record.stopDeadlineMs ?? 0))
    }
  }

  /**
   * Measures now, then again every `measureMs`: on its own timer, not in the step queue, so that a
   * new placement never waits behind reading a hundred containers' cgroups.
   */
  private measureNow (): void {
    if (!this.running) return
    this.measuring = this.measure().catch(error => {
      this.components.logger.warn('measuring containers failed', { error: (error as Error).message })
    }).finally(() => {
      if (this.running) this.measureTimer = this.components.clock.setTimer(agentTimings.measureMs, () => { this.measureNow() })
    })
  }

  /** Reads every container's cgroups and the host's facts, for the report. */
  private async measure (): Promise<void> {
    const { host, clock } = this.components
    const atMs = clock.monotonicMs()
    for (const [id, record] of this.records) {
      if (record.state !== 'running' && record.state !== 'stopping') continue
      const usage = await host.usage(id).catch(() => undefined)
      if (usage === undefined) continue
      const before = this.samples.get(id)
      const cpuMillicores = before === undefined ? 0 : cpuRate(before, { cpuUs: usage.cpuUs, atMs })
      this.samples.set(id, { cpuUs: usage.cpuUs, atMs, cpuMillicores, memoryBytes: usage.memoryBytes })
    }
    this.facts = await host.facts()
  }

  private async save (record: ContainerRecord): Promise<void> {
    await this.components.db.put(record)
    this.records.set(record.placement.container, record)
  }

  private async forget (id: ContainerId): Promise<void> {
    await this.components.db.delete(id)
    this.records.delete(id)
  }
}

function desiredOf (placement: Placement): DesiredContainer {
  return { id: placement.container, envelope: placementEnvelope(placement), description: JSON.stringify(placement.description), request: placementRequest(placement) }
}
