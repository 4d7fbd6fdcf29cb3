import type { ContainerId, JobId, PodId, TaskId } from '../../lib/ids.js'
import { galaxy } from '../../proto/gen/appworker.js'
import type { HealthCheck, PodDescription, RestartPolicy, TaskDescription } from '../../roles/appworker/pod-description.js'
import type { PodCommand, PodPhase, PodStatus, TaskStatus } from '../../roles/appworker/pod-status.js'
import type { TaskExit } from '../../roles/appworker/restart-policy.js'
import type { TaskPhase } from '../../roles/appworker/task-machine.js'
import { DecodeError } from '../decode-error.js'

/** One pull of an AppWorker: who it is and its pod's status (proto/galaxy/appworker.proto). */
export interface PullRequest {
  readonly containerId: ContainerId
  readonly jobId: JobId
  readonly podId: PodId
  readonly appWorkerPid: number
  readonly status: PodStatus
}

const podPhases: Readonly<Record<PodPhase, true>> = {
  pending: true, deploying: true, starting: true, running: true, stopping: true, stopped: true, finished: true, failed: true
}
const taskPhases: Readonly<Record<TaskPhase, true>> = {
  pending: true, deploying: true, deployed: true, starting: true, running: true, backoff: true, stopping: true, stopped: true, finished: true, failed: true
}
const healths: Readonly<Record<TaskStatus['health'], true>> = { unknown: true, healthy: true, unhealthy: true }
const reloads: Readonly<Record<TaskStatus['reload'], true>> = { none: true, reloading: true, reloaded: true, failed: true }
const restartModes: Readonly<Record<RestartPolicy['mode'], true>> = { always: true, 'on-failure': true, never: true }

function named<T extends string> (names: Readonly<Record<T, true>>, value: string, field: string): T {
  if (!Object.hasOwn(names, value)) throw new DecodeError(`${field}: unknown value "${value}"`)
  return value as T
}

function optional (text: string): string | undefined {
  return text === '' ? undefined : text
}

function decoding<T> (what: string, decode: () => T): T {
  try {
    return decode()
  } catch (error) {
    if (error instanceof DecodeError) throw error
    throw new DecodeError(`not a ${what}: ${(error as Error).message}`, { cause: error })
  }
}

// ---- pull requests ----

/** The bytes of a pull request. */
export function encodePullRequest (request: PullRequest): Uint8Array {
  const status = request.status
  return galaxy.PullRequest.encode({
    containerId: request.containerId,
    jobId: request.jobId,
    podId: request.podId,
    appworkerPid: request.appWorkerPid,
    status: {
      phase: status.phase,
      version: status.version,
      dataVersion: status.dataVersion,
      healthy: status.healthy,
      message: status.message,
      tasks: status.tasks.map(task => ({
        name: task.name,
        phase: task.phase,
        version: task.version,
        pid: task.pid,
        startedAtMs: task.startedAtMs,
        restarts: task.restarts,
        lastExit: task.lastExit === undefined ? null : toExitMessage(task.lastExit),
        health: task.health,
        reload: task.reload,
        message: task.message
      }))
    }
  }).finish()
}

function toExitMessage (exit: TaskExit): galaxy.TaskExit.$Properties {
  return { hasCode: exit.code !== null, code: exit.code ?? 0, signal: exit.signal ?? '', coreDumped: exit.coreDumped, oomKilled: exit.oomKilled, atMs: exit.atMs }
}

/** A pull request from its bytes; `DecodeError` for anything else. */
export function decodePullRequest (bytes: Uint8Array): PullRequest {
  return decoding('pull request', () => {
    const message = galaxy.PullRequest.decode(bytes)
    const status = message.status
    if (status === undefined || status === null) throw new DecodeError('pull request: no status')
    return {
      containerId: message.containerId as ContainerId,
      jobId: message.jobId as JobId,
      podId: message.podId as PodId,
      appWorkerPid: message.appworkerPid,
      status: {
        phase: named(podPhases, status.phase ?? '', 'pod phase'),
        version: status.version ?? '',
        dataVersion: status.dataVersion ?? '',
        healthy: status.healthy ?? false,
        message: status.message ?? '',
        tasks: (status.tasks ?? []).map(task => ({
          name: (task.name ?? '') as TaskId,
          phase: named(taskPhases, task.phase ?? '', 'task phase'),
          version: task.version ?? '',
          pid: task.pid ?? 0,
          startedAtMs: Number(task.startedAtMs ?? 0),
          restarts: task.restarts ?? 0,
          lastExit: task.lastExit === undefined || task.lastExit === null ? undefined : fromExitMessage(task.lastExit),
          health: named(healths, task.health ?? '', 'task health'),
          reload: named(reloads, task.reload ?? '', 'task reload'),
          message: task.message ?? ''
        }))
      }
    }
  })
}

function fromExitMessage (exit: galaxy.TaskExit.$Properties): TaskExit {
  return {
    code: exit.hasCode === true ? exit.code ?? 0 : null,
    signal: optional(exit.signal ?? '') ?? null,
    coreDumped: exit.coreDumped ?? false,
    oomKilled: exit.oomKilled ?? false,
    atMs: Number(exit.atMs ?? 0)
  }
}

// ---- pull responses ----

/** The bytes of a command. */
export function encodePullResponse (command: PodCommand): Uint8Array {
  if (command.type === 'stop') return galaxy.PullResponse.encode({ stop: {} }).finish()
  if (command.type === 'wait') return galaxy.PullResponse.encode({ wait: {} }).finish()
  if (command.type === 'quit') return galaxy.PullResponse.encode({ quit: {} }).finish()
  return galaxy.PullResponse.encode({ run: toPodMessage(command.pod) }).finish()
}

/** The message of a pod description. */
export function toPodMessage (pod: PodDescription): galaxy.PodDescription.$Properties {
  return { version: pod.version, dataVersion: pod.dataVersion, tasks: pod.tasks.map(toTaskMessage) }
}

function toTaskMessage (task: TaskDescription): galaxy.TaskDescription.$Properties {
  return {
    name: task.name,
    packageUrl: task.package?.url ?? '',
    packageSha256: task.package?.sha256 ?? '',
    dataPackageUrl: task.dataPackage?.url ?? '',
    dataPackageSha256: task.dataPackage?.sha256 ?? '',
    deployCommand: task.deployCommand ?? '',
    startCommand: task.startCommand,
    stopCommand: task.stopCommand ?? '',
    reloadCommand: task.reloadCommand ?? '',
    stopTimeoutMs: task.stopTimeoutMs,
    restart: { ...task.restart },
    health: task.health === undefined ? null : { ...task.health, port: task.health.port ?? '', command: task.health.command ?? '' },
    env: { ...task.env }
  }
}

/** A command from its bytes; `DecodeError` for anything else. The pod is checked by the AppWorker. */
export function decodePullResponse (bytes: Uint8Array): PodCommand {
  return decoding('pull response', () => {
    const message = galaxy.PullResponse.decode(bytes)
    switch (message.command) {
      case 'stop': return { type: 'stop' }
      case 'wait': return { type: 'wait' }
      case 'quit': return { type: 'quit' }
      case 'run': {
        const pod = message.run as galaxy.PodDescription.$Properties
        return { type: 'run', pod: fromPodMessage(pod) }
      }
      default: throw new DecodeError('pull response: no command')
    }
  })
}

/** A pod description from its message (the AppWorker checks it; a placement is checked by the agent). */
export function fromPodMessage (pod: galaxy.PodDescription.$Properties): PodDescription {
  return { version: pod.version ?? '', dataVersion: pod.dataVersion ?? '', tasks: (pod.tasks ?? []).map(fromTaskMessage) }
}

function fromTaskMessage (task: galaxy.TaskDescription.$Properties): TaskDescription {
  const restart = task.restart
  if (restart === undefined || restart === null) throw new DecodeError(`task ${task.name ?? ''}: no restart policy`)
  const url = task.packageUrl ?? ''
  const dataUrl = task.dataPackageUrl ?? ''
  return {
    name: (task.name ?? '') as TaskId,
    package: url === '' ? undefined : { url, sha256: optional(task.packageSha256 ?? '') },
    dataPackage: dataUrl === '' ? undefined : { url: dataUrl, sha256: optional(task.dataPackageSha256 ?? '') },
    deployCommand: optional(task.deployCommand ?? ''),
    startCommand: task.startCommand ?? '',
    stopCommand: optional(task.stopCommand ?? ''),
    reloadCommand: optional(task.reloadCommand ?? ''),
    stopTimeoutMs: Number(task.stopTimeoutMs ?? 0),
    restart: {
      mode: named(restartModes, restart.mode ?? '', 'restart mode'),
      attempts: restart.attempts ?? 0,
      windowMs: Number(restart.windowMs ?? 0),
      initialDelayMs: Number(restart.initialDelayMs ?? 0),
      maxDelayMs: Number(restart.maxDelayMs ?? 0)
    },
    health: task.health === undefined || task.health === null ? undefined : fromHealthMessage(task.health),
    env: { ...(task.env ?? {}) }
  }
}

function fromHealthMessage (health: galaxy.HealthCheck.$Properties): HealthCheck {
  return {
    port: optional(health.port ?? ''),
    command: optional(health.command ?? ''),
    intervalMs: Number(health.intervalMs ?? 0),
    timeoutMs: Number(health.timeoutMs ?? 0),
    failures: health.failures ?? 0,
    graceMs: Number(health.graceMs ?? 0)
  }
}
