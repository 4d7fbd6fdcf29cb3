import { parseTaskId, type TaskId } from '../../lib/ids.js'

/**
 * When a task that ended is started again: `always` (a service), `on-failure` (a batch task that
 * is done after exit 0), `never`. At most `attempts` restarts within `windowMs`, the n-th after
 * `initialDelayMs · 2^(n-1)`, capped at `maxDelayMs`; past the limit the task fails.
 */
export interface RestartPolicy {
  readonly mode: 'always' | 'on-failure' | 'never'
  readonly attempts: number
  readonly windowMs: number
  readonly initialDelayMs: number
  readonly maxDelayMs: number
}

/**
 * How a task's health is checked once it runs: a TCP connect to one of the pod's ports and/or a
 * command (exit 0 is healthy), every `intervalMs`, each bounded by `timeoutMs`. Unhealthy after
 * `failures` failed checks in a row; healthy again after one success. Checks begin `graceMs`
 * after the start.
 */
export interface HealthCheck {
  readonly port?: string | undefined
  readonly command?: string | undefined
  readonly intervalMs: number
  readonly timeoutMs: number
  readonly failures: number
  readonly graceMs: number
}

/** Where a package is: an absolute path, `file://` or `http(s)://`; its sha256 is checked when given. */
export interface PackageSource {
  readonly url: string
  readonly sha256?: string | undefined
}

/** One task of a pod. Commands are `/bin/sh -c` lines run in the pod's workspace. */
export interface TaskDescription {
  readonly name: TaskId
  /** A tar.gz unpacked into the task's directory before the deploy command; none for a task that needs no files. */
  readonly package?: PackageSource | undefined
  /**
   * A tar.gz of data, unpacked into the task's `data` dir on deploy and again, before the reload
   * command, whenever the pod's data version changes (the process keeps running).
   */
  readonly dataPackage?: PackageSource | undefined
  readonly deployCommand?: string | undefined
  readonly startCommand: string
  /** Run first when the task is stopped; then SIGTERM, then SIGKILL after `stopTimeoutMs`. */
  readonly stopCommand?: string | undefined
  /** Run when the pod's data version changes; the task's process keeps running. */
  readonly reloadCommand?: string | undefined
  readonly stopTimeoutMs: number
  readonly restart: RestartPolicy
  readonly health?: HealthCheck | undefined
  readonly env: Readonly<Record<string, string>>
}

/**
 * What a pod runs. A new `version` rebuilds it in place (stop, deploy, start, in the same
 * container); a new `dataVersion` alone reloads it (the reload command, processes kept).
 */
export interface PodDescription {
  readonly version: string
  readonly dataVersion: string
  readonly tasks: readonly TaskDescription[]
}

/** Named bounds of a pod description. */
export const podLimits = {
  maxTasks: 32,
  maxCommandBytes: 16 * 1024,
  maxStopTimeoutMs: 600_000,
  maxRestartAttempts: 1000
} as const

/** Checks a pod description; the reason names the part that is wrong, or undefined when it is fine. */
export function checkPodDescription (pod: PodDescription, portNames: readonly string[]): string | undefined {
  if (pod.version === '') return 'a pod needs a version'
  if (pod.tasks.length === 0) return 'a pod needs at least one task'
  if (pod.tasks.length > podLimits.maxTasks) return `a pod has at most ${podLimits.maxTasks} tasks, not ${pod.tasks.length}`
  const names = new Set<string>()
  for (const task of pod.tasks) {
    const name = parseTaskId(task.name)
    if (!name.ok) return name.error
    if (names.has(task.name)) return `task ${task.name} appears twice`
    names.add(task.name)
    const problem = checkTask(task, portNames)
    if (problem !== undefined) return `task ${task.name}: ${problem}`
  }
  return undefined
}

function checkTask (task: TaskDescription, portNames: readonly string[]): string | undefined {
  if (task.startCommand.trim() === '') return 'needs a start command'
  for (const command of [task.startCommand, task.deployCommand, task.stopCommand, task.reloadCommand, task.health?.command]) {
    if (command !== undefined && command.length > podLimits.maxCommandBytes) return `a command is longer than ${podLimits.maxCommandBytes} bytes`
  }
  for (const [source, what] of [[task.package, 'package'], [task.dataPackage, 'data package']] as const) {
    if (source !== undefined && source.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(source.sha256)) return `the ${what} sha256 must be 64 lower-case hex digits`
  }
  if (!isCount(task.stopTimeoutMs) || task.stopTimeoutMs > podLimits.maxStopTimeoutMs) return `the stop timeout must be 0 to ${podLimits.maxStopTimeoutMs} ms`
  const restart = task.restart
  if (!isCount(restart.attempts) || restart.attempts > podLimits.maxRestartAttempts) return `restart attempts must be 0 to ${podLimits.maxRestartAttempts}`
  if (!isCount(restart.windowMs) || !isCount(restart.initialDelayMs) || !isCount(restart.maxDelayMs) || restart.maxDelayMs < restart.initialDelayMs) {
    return 'restart window and delays must be whole ms, the maximum delay at least the initial one'
  }
  const health = task.health
  if (health !== undefined) {
    if (health.port === undefined && health.command === undefined) return 'a health check needs a port or a command'
    if (health.port !== undefined && !portNames.includes(health.port)) return `the health check port ${health.port} is not one of the pod's ports`
    if (!(health.intervalMs > 0) || !(health.timeoutMs > 0) || !isCount(health.graceMs) || !(Number.isInteger(health.failures) && health.failures >= 1)) {
      return 'a health check needs an interval and a timeout above 0, a grace of 0 or more and at least 1 failure'
    }
  }
  return undefined
}

function isCount (value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0
}
