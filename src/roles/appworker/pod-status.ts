import type { TaskId } from '../../lib/ids.js'
import type { PodDescription } from './pod-description.js'
import type { TaskExit } from './restart-policy.js'
import type { TaskPhase, TaskState } from './task-machine.js'

/** Where a pod is, summed up from its tasks. */
export type PodPhase = 'pending' | 'deploying' | 'starting' | 'running' | 'stopping' | 'stopped' | 'finished' | 'failed'

/** What the AppWorker tells its command source with every pull. */
export interface PodStatus {
  readonly phase: PodPhase
  /** The version the pod is at, or being rebuilt to; empty before the first command. */
  readonly version: string
  readonly dataVersion: string
  /** Every task with a health check is healthy. */
  readonly healthy: boolean
  readonly tasks: readonly TaskStatus[]
  /** A problem of the pod as a whole (a refused command); empty when there is none. */
  readonly message: string
}

/** One task's part of a `PodStatus`. */
export interface TaskStatus {
  readonly name: TaskId
  readonly phase: TaskPhase
  readonly version: string
  readonly pid: number
  readonly startedAtMs: number
  readonly restarts: number
  readonly lastExit: TaskExit | undefined
  readonly health: 'unknown' | 'healthy' | 'unhealthy'
  readonly reload: 'none' | 'reloading' | 'reloaded' | 'failed'
  readonly message: string
}

/**
 * What the command source answers a pull with: run this pod (a new version rebuilds in place, a
 * new data version reloads), stop every task (the container stays), quit (stop every task: the
 * container is to be made again, its resources changed), or carry on as before.
 */
export type PodCommand =
  | { readonly type: 'run', readonly pod: PodDescription }
  | { readonly type: 'stop' }
  | { readonly type: 'quit' }
  | { readonly type: 'wait' }

const phaseOrder: readonly PodPhase[] = ['failed', 'stopping', 'deploying', 'pending', 'starting']

/**
 * The pod's phase: `failed` if any task failed; else the earliest of stopping, deploying,
 * pending, starting that any task is in; else `running` while any runs, `stopped` when all are
 * stopped, `finished` when all ended as their policy wants.
 */
export function podPhase (tasks: readonly TaskState[]): PodPhase {
  if (tasks.length === 0) return 'pending'
  const phases = new Set<PodPhase>(tasks.map(task => podPhaseOfTask(task.phase)))
  for (const phase of phaseOrder) if (phases.has(phase)) return phase
  if (phases.has('running')) return 'running'
  if (phases.has('stopped')) return 'stopped'
  return 'finished'
}

function podPhaseOfTask (phase: TaskPhase): PodPhase {
  switch (phase) {
    case 'deployed':
    case 'backoff':
      return 'starting'
    default:
      return phase
  }
}

/** The status the AppWorker reports for `tasks`. */
export function podStatus (tasks: readonly TaskState[], version: string, dataVersion: string, message: string): PodStatus {
  return {
    message,
    phase: podPhase(tasks),
    version,
    dataVersion,
    healthy: tasks.every(task => task.task?.health === undefined || task.health === 'healthy'),
    tasks: tasks.map(task => ({
      name: task.name,
      phase: task.phase,
      version: task.version,
      pid: task.process?.pid ?? 0,
      startedAtMs: task.process?.startedAtMs ?? 0,
      restarts: task.restarts,
      lastExit: task.lastExit,
      health: task.health,
      reload: task.reload,
      message: task.message
    }))
  }
}
