import { join } from 'node:path'
import type { NodeId, TaskId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import { AgentController, type ContainerRecord, type PodDirector } from '../../roles/agent/agent-controller.js'
import type { AgentReport } from '../../roles/agent/agent-report.js'
import type { Resources } from '../../roles/agent/allocation.js'
import type { PodStatus } from '../../roles/appworker/pod-status.js'
import { ContainerRuntime } from '../../runtime/container/container-runtime.js'
import { taskLogPath } from '../../runtime/container/container-spec.js'
import { detectIsolation } from '../../runtime/container/isolation.js'
import { followLog } from '../../runtime/process/log-follow.js'
import { defaultTailBytes, maxTailBytes } from '../../runtime/process/log-file.js'
import { systemClock } from '../../runtime/system-clock.js'
import type { ApiCall, ApiReply } from '../api/call.js'
import { ApiFailure } from '../api/router.js'
import type { NodeCapacity } from '../gossip/liveness.js'
import { galaxyCommand } from '../self-command.js'
import { LevelContainerDb } from './container-db.js'
import { containerDefaults, RuntimeContainerHost } from './host-containers.js'
import { SocketPullRelay } from './socket-relay.js'
import { StorePlacements } from './store-placements.js'

/** What the agent of a node keeps back for the host's own processes, unless told otherwise. */
export const defaultReserve: Resources = { cpuMillicores: 500, memoryBytes: 512 * 1024 * 1024, diskBytes: 1024 * 1024 * 1024 }

/** One container as the node's API shows it. */
export interface AgentContainer extends ContainerRecord {
  readonly status: PodStatus | null
}

/**
 * The agent role of a node: its containers under `<data>/containers` (cgroups under
 * `galaxy-<node>`), their records in `<data>/agent`, a pull socket per container, and a
 * controller that follows this node's placements in the store.
 */
export class NodeAgent {
  private readonly watching = new AbortController()

  private constructor (
    private readonly controller: AgentController,
    private readonly db: LevelContainerDb,
    readonly runtime: ContainerRuntime
  ) {}

  static async start (options: {
    readonly dataDir: string
    readonly node: NodeId
    readonly capacity: NodeCapacity
    readonly reserve: Resources
    /** The node's router: placements are read (and watched) through it. */
    readonly handle: (call: ApiCall) => Promise<ApiReply>
    /** Who answers the pods' pulls: their jobs' AppMasters. */
    readonly director?: PodDirector | undefined
    /** How long an AppWorker may go without pulling before its container is failed (`agentTimings.silentMs`). */
    readonly silentMs?: number | undefined
    readonly logger: Logger
  }): Promise<NodeAgent> {
    const logger = options.logger
    const isolation = await detectIsolation()
    if (isolation.level === 'degraded') logger.warn('isolation is degraded: pods run as plain process groups', { reasons: isolation.reasons.join('; ') })
    const runtime = new ContainerRuntime({ containersDir: join(options.dataDir, 'containers'), cgroupParent: cgroupParentOf(options.node), isolation, logger })
    const db = await LevelContainerDb.open(join(options.dataDir, 'agent'))
    const placements = new StorePlacements({ node: options.node, handle: options.handle, logger })
    const total: Resources = { cpuMillicores: options.capacity.cpuCores * 1000, memoryBytes: options.capacity.memoryBytes, diskBytes: options.capacity.diskBytes }
    const controller = new AgentController({
      source: placements,
      host: new RuntimeContainerHost({ runtime, isolation, dataDir: options.dataDir, galaxy: galaxyCommand(), keepDirMs: containerDefaults.keepDirMs, logger }),
      db,
      relay: new SocketPullRelay({ containerDir: id => runtime.paths(id).root, logger }),
      director: options.director,
      capacity: { total, reserved: options.reserve },
      clock: systemClock,
      silentMs: options.silentMs,
      logger
    })
    try {
      await controller.start()
    } catch (error) {
      await db.close()
      throw error
    }
    const agent = new NodeAgent(controller, db, runtime)
    placements.watch(() => { controller.kick() }, agent.watching.signal).catch(() => undefined)
    return agent
  }

  report (): AgentReport {
    return this.controller.report()
  }

  containers (): AgentContainer[] {
    return this.controller.containers().map(record => ({ ...record, status: this.controller.podStatus(record.placement.container) ?? null }))
  }

  /**
   * A task's log as a stream: `task` (default the first), `stream` stdout or stderr, the last
   * `tail` bytes (default 64 KiB), then with `follow=1` what is appended until the caller leaves.
   */
  logs (container: string, query: URLSearchParams, signal: AbortSignal): ApiReply {
    const record = this.controller.containers().find(candidate => candidate.placement.container === container)
    if (record === undefined) throw new ApiFailure('ERR_NOT_FOUND', `this node has no container ${container}`)
    const tasks = record.placement.description.tasks.map(task => task.name)
    const task = query.get('task') ?? tasks[0] ?? ''
    if (!(tasks as readonly string[]).includes(task)) throw new ApiFailure('ERR_NOT_FOUND', `container ${container} has no task "${task}" (it has ${tasks.join(', ')})`)
    const stream = query.get('stream') ?? 'stdout'
    if (stream !== 'stdout' && stream !== 'stderr') throw new ApiFailure('ERR_BAD_REQUEST', `stream must be stdout or stderr, not "${stream}"`)
    const tail = Number(query.get('tail') ?? defaultTailBytes)
    if (!Number.isSafeInteger(tail) || tail < 0 || tail > maxTailBytes) throw new ApiFailure('ERR_BAD_REQUEST', `tail must be 0 to ${maxTailBytes} bytes`)
    const follow = query.get('follow') === '1' || query.get('follow') === 'true'
    const path = taskLogPath(this.runtime.paths(record.placement.container), task as TaskId, stream)
    return { status: 200, contentType: 'text/plain; charset=utf-8', stream: followLog(path, { tailBytes: tail, follow, signal }) }
  }

  /**
   * Stops following placements; the containers and their AppWorkers keep running, to be
   * re-adopted — unless `disposable` (a throwaway data dir): then they are destroyed, and the
   * node's cgroup parent goes with them.
   */
  async stop (options: { readonly disposable?: boolean } = {}): Promise<void> {
    this.watching.abort()
    await this.controller.stop()
    await this.db.close()
    if (options.disposable === true) await this.runtime.destroyAll()
  }
}

/** The cgroup all containers of a node go under: one per node, so that nodes can share a host. */
export function cgroupParentOf (node: NodeId): string {
  return `galaxy-${node.slice(-12)}`
}
