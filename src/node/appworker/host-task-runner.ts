import type { ChildProcess } from 'node:child_process'
import { close } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ContainerId, JobId, PodId, TaskId } from '../../lib/ids.js'
import type { TaskRunner } from '../../roles/appworker/appworker-controller.js'
import type { HealthCheck, TaskDescription } from '../../roles/appworker/pod-description.js'
import { isCoreSignal, type TaskExit } from '../../roles/appworker/restart-policy.js'
import type { TaskProcess } from '../../roles/appworker/task-machine.js'
import type { ContainerRuntime } from '../../runtime/container/container-runtime.js'
import { taskIdVariable } from '../../runtime/container/container-runtime.js'
import { taskLogPath, type ContainerPaths, type ContainerSpec } from '../../runtime/container/container-spec.js'
import { probeCommand, probeTcp } from '../../runtime/health/probes.js'
import { fetchPackage, packageDefaults } from '../../runtime/package/fetch-package.js'
import { killQuietly } from '../../runtime/process/kill-quietly.js'
import { LogFile } from '../../runtime/process/log-file.js'
import { isSameProcess, processIdentity } from '../../runtime/process/proc-stat.js'

/** Bounds of the runner: log files, and how long a deploy or reload command may run. */
export const taskRunnerLimits = {
  logMaxBytes: 10 * 1024 * 1024,
  logFilesKept: 5,
  commandTimeoutMs: 600_000
} as const

/** What the runner remembers of a task it started, beside the process: the OOM count it started with. */
interface StartRecord {
  readonly oomKills: number
}

/**
 * Runs a container's tasks on this host for its AppWorker: packages unpacked into
 * `workspace/<task>` (the task's working dir), commands as `/bin/sh -c` lines inside the task's
 * cgroup (and namespaces), stdout and stderr appended to `logs/<task>.out.log` and `.err.log`
 * (size-rotated), environment `GALAXY_JOB_ID`, `GALAXY_POD_ID`, `GALAXY_TASK_ID`,
 * `GALAXY_PORT_<NAME>`, `GALAXY_DATA_VERSION`. A task it started itself reports its exit code and
 * signal, and is reported to the exit listener at once; one it re-attached to (after an AppWorker
 * restart) only that it ended, when `exitOf` is asked. OOM kills are read from the task's cgroup.
 */
export class HostTaskRunner implements TaskRunner {
  private readonly children = new Map<number, { exit: TaskExit | undefined }>()
  private readonly logs = new Map<TaskId, LogFile[]>()
  private exitListener: (name: TaskId) => void = () => undefined

  constructor (private readonly init: {
    readonly runtime: ContainerRuntime
    readonly id: ContainerId
    readonly spec: ContainerSpec
    readonly jobId: JobId
    readonly podId: PodId
    readonly nowMs: () => number
  }) {}

  private get paths (): ContainerPaths {
    return this.init.runtime.paths(this.init.id)
  }

  async deploy (task: TaskDescription, dataVersion: string): Promise<void> {
    const dir = this.taskDir(task.name)
    if (task.package === undefined) {
      await mkdir(dir, { recursive: true })
    } else {
      await fetchPackage(task.package, { downloadDir: join(this.paths.state, 'downloads'), targetDir: dir }, packageDefaults)
    }
    await this.fetchData(task)
    if (task.deployCommand !== undefined) await this.runCommand(task, 'deploy', task.deployCommand, dataVersion, taskRunnerLimits.commandTimeoutMs)
  }

  async start (task: TaskDescription, dataVersion: string): Promise<TaskProcess> {
    // Whatever a start cut short by an AppWorker crash left behind goes first.
    await this.init.runtime.killTask(this.init.id, task.name)
    const oomKills = (await this.init.runtime.usage(this.init.id, { kind: 'task', task: task.name }))?.oomKills ?? 0
    const record: StartRecord = { oomKills }
    await writeFile(this.recordPath(task.name), JSON.stringify(record))
    const child = await this.spawn(task, ['/bin/sh', '-c', task.startCommand], dataVersion)
    const pid = child.pid as number
    const entry: { exit: TaskExit | undefined } = { exit: undefined }
    this.children.set(pid, entry)
    child.once('exit', (code, signal) => {
      entry.exit = { code, signal, coreDumped: isCoreSignal(signal), oomKilled: false, atMs: this.init.nowMs() }
      this.exitListener(task.name)
    })
    child.unref()
    const identity = await processIdentity(pid)
    // Gone already (a start command that fails at once): its exit is read by exitOf.
    return { pid, startTicks: identity?.startTicks ?? 0, startedAtMs: this.init.nowMs() }
  }

  async stop (task: TaskDescription, process: TaskProcess): Promise<void> {
    if (task.stopCommand !== undefined) {
      await this.runCommand(task, 'stop', task.stopCommand, '', task.stopTimeoutMs).catch(() => undefined)
      return
    }
    // The task leads its own process group (it was started detached).
    killQuietly(-process.pid, 'SIGTERM')
  }

  async kill (task: TaskDescription, process: TaskProcess): Promise<void> {
    killQuietly(-process.pid, 'SIGKILL')
    await this.init.runtime.killTask(this.init.id, task.name)
  }

  async exitOf (name: TaskId, process: TaskProcess): Promise<TaskExit | undefined> {
    const child = this.children.get(process.pid)
    let exit: TaskExit | undefined
    if (child !== undefined) {
      exit = child.exit
      if (exit === undefined) return undefined
      this.children.delete(process.pid)
    } else {
      // Started by an earlier AppWorker: not our child, so only whether it still runs is known.
      if (await isSameProcess({ pid: process.pid, startTicks: process.startTicks })) return undefined
      exit = { code: null, signal: null, coreDumped: false, oomKilled: false, atMs: this.init.nowMs() }
    }
    const record = await readFile(this.recordPath(name), 'utf8').then(text => JSON.parse(text) as StartRecord, () => undefined)
    const oomKills = (await this.init.runtime.usage(this.init.id, { kind: 'task', task: name }))?.oomKills ?? 0
    return { ...exit, oomKilled: record !== undefined && oomKills > record.oomKills }
  }

  watchExits (listener: (name: TaskId) => void): void {
    this.exitListener = listener
  }

  async probe (task: TaskDescription, health: HealthCheck): Promise<{ healthy: boolean, reason: string }> {
    if (health.port !== undefined) {
      const port = this.init.spec.ports.find(candidate => candidate.name === health.port)
      if (port === undefined) return { healthy: false, reason: `the pod has no port ${health.port}` }
      const result = await probeTcp({ host: '127.0.0.1', port: port.port }, health.timeoutMs)
      if (!result.healthy) return { healthy: false, reason: `port ${health.port} (${port.port}): ${result.reason}` }
    }
    if (health.command !== undefined) {
      const result = await probeCommand(health.command, { cwd: this.taskDir(task.name), env: this.env(task, ''), timeoutMs: health.timeoutMs })
      if (!result.healthy) return { healthy: false, reason: `health command: ${result.reason}` }
    }
    return { healthy: true, reason: '' }
  }

  async reload (task: TaskDescription, dataVersion: string): Promise<void> {
    await this.fetchData(task)
    if (task.reloadCommand === undefined) return
    await this.runCommand(task, 'reload', task.reloadCommand, dataVersion, taskRunnerLimits.commandTimeoutMs)
  }

  /** Unpacks the task's data package into `<task>/data` (after the task's own package, which replaces the task dir). */
  private async fetchData (task: TaskDescription): Promise<void> {
    if (task.dataPackage === undefined) return
    await fetchPackage(task.dataPackage, { downloadDir: join(this.paths.state, 'downloads'), targetDir: join(this.taskDir(task.name), 'data') }, packageDefaults)
  }

  async rotateLogs (): Promise<void> {
    for (const files of this.logs.values()) for (const file of files) await file.rotateIfLarge()
  }

  /** The task's log files: standard output, then standard error. */
  logFiles (name: TaskId): LogFile[] {
    let files = this.logs.get(name)
    if (files === undefined) {
      const limits = { maxBytes: taskRunnerLimits.logMaxBytes, keep: taskRunnerLimits.logFilesKept }
      files = [new LogFile(taskLogPath(this.paths, name, 'stdout'), limits), new LogFile(taskLogPath(this.paths, name, 'stderr'), limits)]
      this.logs.set(name, files)
    }
    return files
  }

  private taskDir (name: TaskId): string {
    return join(this.paths.workspace, name)
  }

  private recordPath (name: TaskId): string {
    return join(this.paths.state, `task-${name}.json`)
  }

  private env (task: TaskDescription, dataVersion: string): Record<string, string> {
    const env: Record<string, string> = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: this.taskDir(task.name),
      ...task.env,
      GALAXY_JOB_ID: this.init.jobId,
      GALAXY_POD_ID: this.init.podId,
      [taskIdVariable]: task.name,
      GALAXY_DATA_VERSION: dataVersion
    }
    for (const port of this.init.spec.ports) env[`GALAXY_PORT_${port.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = String(port.port)
    return env
  }

  /**
   * Starts argv in the task's cgroup, in a process group and session of its own (so that a stop
   * signals the whole group and the task outlives its AppWorker), output appended to its log
   * files; resolves once it runs (or rejects when it cannot).
   */
  private async spawn (task: TaskDescription, argv: string[], dataVersion: string): Promise<ChildProcess> {
    await mkdir(this.taskDir(task.name), { recursive: true })
    const [out, err] = this.logFiles(task.name)
    const fds = [await (out as LogFile).openForChild(), await (err as LogFile).openForChild()]
    try {
      const child = await this.init.runtime.spawn(this.init.id, { kind: 'task', task: task.name }, argv, {
        cwd: this.taskDir(task.name), env: this.env(task, dataVersion), stdio: ['ignore', fds[0] as number, fds[1] as number], detached: true
      })
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve)
        child.once('error', reject)
      })
      return child
    } finally {
      for (const fd of fds) close(fd, () => undefined)
    }
  }

  /** Runs one of the task's commands to its end; a non-zero exit or the time limit throws, naming the command. */
  private async runCommand (task: TaskDescription, what: string, command: string, dataVersion: string, timeoutMs: number): Promise<void> {
    const child = await this.spawn(task, ['/bin/sh', '-c', command], dataVersion)
    const pid = child.pid as number
    const exited = new Promise<[number | null, NodeJS.Signals | null]>(resolve => { child.once('exit', (code, signal) => { resolve([code, signal]) }) })
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>(resolve => { timer = setTimeout(() => { resolve('timeout') }, timeoutMs) })
    const outcome = await Promise.race([exited, timedOut])
    clearTimeout(timer)
    if (outcome === 'timeout') {
      killQuietly(-pid, 'SIGKILL')
      throw new Error(`the ${what} command did not finish within ${timeoutMs / 1000} s`)
    }
    const [code, signal] = outcome
    if (code === 0) return
    const tail = (await (this.logFiles(task.name)[1] as LogFile).tail(2048)).toString('utf8').trim().split('\n').at(-1) ?? ''
    throw new Error(`the ${what} command ${signal === null ? `exited with code ${code ?? '?'}` : `was killed by ${signal}`}${tail === '' ? '' : `: ${tail.slice(0, 200)}`}`)
  }
}
