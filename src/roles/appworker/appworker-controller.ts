import type { Clock, Timer } from '../../lib/clock.js'
import type { TaskId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import { checkPodDescription, type HealthCheck, type PodDescription, type TaskDescription } from './pod-description.js'
import { podStatus, type PodCommand, type PodStatus } from './pod-status.js'
import type { TaskExit } from './restart-policy.js'
import { applyTaskEvent, newTaskState, nextDueMs, planTask, type TaskAction, type TaskEvent, type TaskProcess, type TaskState, type TaskTarget } from './task-machine.js'

/** Where the AppWorker's commands come from: its node, which relays the pull to the job's AppMaster. */
export interface CommandSource {
  /** Sends the pod's status and answers the next command; throws when the node cannot be reached. */
  pull (status: PodStatus): Promise<PodCommand>
}

/** Runs the tasks of this container on the host; every method throws an Error whose message is one line. */
export interface TaskRunner {
  /** Fetches and unpacks the task's package and runs its deploy command. */
  deploy (task: TaskDescription, dataVersion: string): Promise<void>
  /** Starts the task in its cgroup (anything left in that cgroup is killed first). */
  start (task: TaskDescription, dataVersion: string): Promise<TaskProcess>
  /** Runs the stop command, then sends SIGTERM to the task's process group. */
  stop (task: TaskDescription, process: TaskProcess): Promise<void>
  /** Kills every process of the task. */
  kill (task: TaskDescription, process: TaskProcess): Promise<void>
  /** How the process ended, or undefined while it runs. */
  exitOf (name: TaskId, process: TaskProcess): Promise<TaskExit | undefined>
  /**
   * Calls `listener` with the task's name as soon as a process this runner started ends (then
   * `exitOf` answers how). A process started by an earlier AppWorker is not its child, and its end
   * is not reported: only polling `exitOf` finds it. One listener; a second call replaces the first.
   */
  watchExits (listener: (name: TaskId) => void): void
  probe (task: TaskDescription, health: HealthCheck): Promise<{ healthy: boolean, reason: string }>
  reload (task: TaskDescription, dataVersion: string): Promise<void>
  /** Rotates log files that grew past their size. */
  rotateLogs (): Promise<void>
}

/** What the AppWorker saves so that a restarted one re-attaches to its running tasks. */
export interface SavedPod {
  readonly pod: PodDescription | undefined
  readonly stopped: boolean
  readonly tasks: readonly TaskState[]
}

/** Where the saved pod lives (a file in the container's state dir). */
export interface PodStateStore {
  load (): Promise<SavedPod | undefined>
  save (state: SavedPod): Promise<void>
}

/** Named bounds and periods of the AppWorker. */
export const appWorkerLimits = {
  pullIntervalMs: 1000,
  pullTimeoutMs: 5000,
  logRotateIntervalMs: 10_000,
  /**
   * How often the processes an earlier AppWorker started are looked at: they are not this one's
   * children, so their end is never reported, only found by asking.
   */
  reattachedPollMs: 1000,
  /** The sleep when something is due already (a due time past, a step to take at once), so that the loop cannot spin. */
  minSleepMs: 10,
  /** After a step that failed, the next one comes this soon (and no sooner, whatever else is due). */
  failedStepRetryMs: 200
} as const

/** The pod's message once told to quit: its container is to be made again. */
const quitMessage = 'quit: its resources changed, the container is made again'

/**
 * The AppWorker's thin controller: pulls a command every second, and at once when the pod's status changed (sending it),
 * turns it into a target per task, and runs what `planTask` says, feeding each outcome back as an
 * event. Its state is saved after every change, so that a restarted AppWorker re-attaches to the
 * processes it had started instead of starting them again. A node that cannot be reached changes
 * nothing: the tasks keep running as last told.
 *
 * It steps only when something happened (an action's outcome, a task's process ending, a pull's
 * answer) or fell due, and otherwise sleeps on one timer armed for the earliest of: the next pull,
 * the next log rotation, each task's `nextDueMs` (a probe, a kill, a restart), and the next look
 * at processes an earlier AppWorker started.
 */
export class AppWorkerController {
  private tasks = new Map<TaskId, TaskState>()
  private pod: PodDescription | undefined
  private stopped = false
  private podMessage = ''
  private savedText = ''
  private timer: Timer | undefined
  private running = false
  private queued = false
  private stepping: Promise<void> = Promise.resolve()
  /** Times of the controller's own periods, on the monotonic clock (unlike the tasks' times, they are never saved). */
  private lastPullMs = -Infinity
  /** What the last pull told of the pod, without its times (see `statusShape`). */
  private pulledShape = ''
  private lastRotateMs = -Infinity
  private pulling = false
  /** When the last step failed (it is tried again `failedStepRetryMs` later); -Infinity once one succeeded. */
  private failedStepAtMs = -Infinity
  /** Tasks whose process may have ended: the runner said so, or it was just started (and may have ended before that was known). */
  private readonly exitsToCheck = new Set<TaskId>()
  /** The processes of tasks an earlier AppWorker started, by task: polled, as no exit of theirs is reported. */
  private readonly reattached = new Map<TaskId, TaskProcess>()
  private lastReattachedPollMs = -Infinity
  private readonly actionsInFlight = new Set<Promise<void>>()

  constructor (private readonly components: {
    readonly source: CommandSource
    readonly runner: TaskRunner
    readonly store: PodStateStore
    readonly clock: Clock
    readonly logger: Logger
    /** The pod's port names, which a health check may name. */
    readonly portNames: readonly string[]
  }) {}

  /** Loads the saved pod (re-attaching to its processes) and starts the loop. */
  async start (): Promise<void> {
    const saved = await this.components.store.load()
    if (saved !== undefined) {
      this.pod = saved.pod
      this.stopped = saved.stopped
      // An action in flight when the last AppWorker ended is done again; the runner's start
      // first kills whatever a half-done start left in the task's cgroup.
      for (const task of saved.tasks) {
        this.tasks.set(task.name, resumed(task))
        if (task.process !== undefined && hasProcess(task)) this.reattached.set(task.name, task.process)
      }
      this.components.logger.info('re-attached', { tasks: saved.tasks.map(task => `${task.name}:${task.phase}:${task.process?.pid ?? 0}`).join(' ') })
    }
    this.components.runner.watchExits(name => {
      this.exitsToCheck.add(name)
      this.kick()
    })
    this.running = true
    this.kick()
  }

  /** Stops the loop and waits for the actions in flight; the tasks keep running. */
  async stop (): Promise<void> {
    this.running = false
    this.timer?.cancel()
    await this.stepping
    await Promise.all([...this.actionsInFlight])
    await this.save()
  }

  /** The status sent with every pull. */
  status (): PodStatus {
    return podStatus([...this.tasks.values()], this.pod?.version ?? '', this.pod?.dataVersion ?? '', this.podMessage)
  }

  /** Wall-clock time: the task machine's times are saved, and must mean the same to the next AppWorker. */
  private nowMs (): number {
    return this.components.clock.wallMs()
  }

  private monotonicMs (): number {
    return this.components.clock.monotonicMs()
  }

  /** Queues a step, unless one is queued already (steps never pile up behind a slow one); each step ends by arming the timer. */
  private kick (): void {
    if (this.queued) return
    this.queued = true
    this.stepping = this.stepping.then(async () => {
      this.queued = false
      try {
        await this.step()
        this.failedStepAtMs = -Infinity
      } catch (error) {
        this.failedStepAtMs = this.monotonicMs()
        this.components.logger.error('appworker step failed', { error: (error as Error).message })
      }
      this.sleep()
    }).catch(error => {
      this.components.logger.error('appworker step failed', { error: (error as Error).message })
    })
  }

  /**
   * Arms the one timer for the earliest thing due (see the class comment); what is due already
   * waits `minSleepMs`. After a failed step only its retry counts, so that a step that keeps
   * failing runs at the retry period, not at every due time already past.
   */
  private sleep (): void {
    if (!this.running) return
    const nowMs = this.monotonicMs()
    let delayMs = this.failedStepAtMs + appWorkerLimits.failedStepRetryMs - nowMs
    if (this.failedStepAtMs === -Infinity) {
      let dueMs = this.lastRotateMs + appWorkerLimits.logRotateIntervalMs
      // A pull in flight is left out: its end arms the timer again.
      if (!this.pulling) dueMs = Math.min(dueMs, this.lastPullMs + appWorkerLimits.pullIntervalMs)
      if (this.reattached.size > 0) dueMs = Math.min(dueMs, this.lastReattachedPollMs + appWorkerLimits.reattachedPollMs)
      let taskDueMs = Infinity
      for (const [name, target] of this.targets()) taskDueMs = Math.min(taskDueMs, nextDueMs(this.tasks.get(name) ?? newTaskState(name), target))
      delayMs = Math.min(dueMs - nowMs, taskDueMs - this.nowMs())
    }
    this.timer?.cancel()
    this.timer = this.components.clock.setTimer(delayMs > 0 ? delayMs : appWorkerLimits.minSleepMs, () => {
      this.timer = undefined
      this.kick()
    })
  }

  private async step (): Promise<void> {
    await this.checkExits()
    for (const [name, target] of this.targets()) {
      const state = this.tasks.get(name) ?? newTaskState(name)
      if (target === undefined) {
        // A task the pod no longer has, already stopped: forgotten.
        this.tasks.delete(name)
        continue
      }
      const planned = planTask(state, target, this.nowMs())
      this.tasks.set(name, planned.state)
      for (const action of planned.actions) this.run(name, action)
    }
    // After planning, so that what planning changed is told at once too.
    this.maybePull()
    await this.save()
    const nowMs = this.monotonicMs()
    if (nowMs - this.lastRotateMs >= appWorkerLimits.logRotateIntervalMs) {
      this.lastRotateMs = nowMs
      await this.components.runner.rotateLogs().catch(error => {
        this.components.logger.warn('log rotation failed', { error: (error as Error).message })
      })
    }
  }

  /**
   * Asks the runner how the processes that may have ended did: those it reported (or just
   * started), and, at most once per `reattachedPollMs`, those an earlier AppWorker started.
   */
  private async checkExits (): Promise<void> {
    for (const [name, process] of this.reattached) {
      const state = this.tasks.get(name)
      if (state?.process === undefined || !hasProcess(state) || !isSameTaskProcess(state.process, process)) this.reattached.delete(name)
    }
    const names = new Set(this.exitsToCheck)
    this.exitsToCheck.clear()
    const nowMs = this.monotonicMs()
    if (this.reattached.size > 0 && nowMs - this.lastReattachedPollMs >= appWorkerLimits.reattachedPollMs) {
      this.lastReattachedPollMs = nowMs
      for (const name of this.reattached.keys()) names.add(name)
    }
    for (const name of names) {
      const state = this.tasks.get(name)
      if (state?.process === undefined || !hasProcess(state)) continue
      const exit = await this.components.runner.exitOf(name, state.process)
      if (exit !== undefined) this.apply(name, { type: 'exited', exit })
    }
  }

  /** Pulls when the interval has passed or the pod's status changed since the last pull, unless a pull is in flight. */
  private maybePull (): void {
    const nowMs = this.monotonicMs()
    if (this.pulling || !this.isPullDue(nowMs)) return
    this.lastPullMs = nowMs
    this.pulling = true
    void this.pull().finally(() => {
      this.pulling = false
      // The timer left this pull out: arm it again, or step at once if a pull is due already.
      if (this.queued) return
      if (this.isPullDue(this.monotonicMs())) this.kick()
      else this.sleep()
    })
  }

  /** A change of the pod's status is told at once, not at the next interval. */
  private isPullDue (nowMs: number): boolean {
    return nowMs - this.lastPullMs >= appWorkerLimits.pullIntervalMs || statusShape(this.status()) !== this.pulledShape
  }

  /**
   * Each task's target: every task of the pod runs (or stops after a stop command); a task the
   * pod no longer has stops with its own description, and is forgotten (undefined) once it has.
   */
  private targets (): Array<[TaskId, TaskTarget | undefined]> {
    const targets: Array<[TaskId, TaskTarget | undefined]> = []
    const pod = this.pod
    if (pod === undefined) return targets
    for (const task of pod.tasks) {
      targets.push([task.name, { run: !this.stopped, task, version: pod.version, dataVersion: pod.dataVersion }])
    }
    for (const state of this.tasks.values()) {
      if (pod.tasks.some(task => task.name === state.name)) continue
      const isIdle = state.process === undefined && state.phase !== 'deploying' && state.phase !== 'starting'
      if (isIdle || state.task === undefined) targets.push([state.name, undefined])
      else targets.push([state.name, { run: false, task: state.task, version: state.version, dataVersion: state.dataVersion }])
    }
    return targets
  }

  private async pull (): Promise<void> {
    let command: PodCommand
    const status = this.status()
    this.pulledShape = statusShape(status)
    try {
      command = await this.components.source.pull(status)
    } catch (error) {
      this.components.logger.warn('pull failed', { error: (error as Error).message })
      return
    }
    if (command.type === 'wait') return
    if (command.type === 'stop') {
      this.stopped = true
    } else if (command.type === 'quit') {
      this.stopped = true
      this.podMessage = quitMessage
    } else {
      const problem = checkPodDescription(command.pod, this.components.portNames)
      if (problem !== undefined) {
        this.podMessage = `refused a pod description: ${problem}`
        this.components.logger.warn('refused a pod description', { problem })
        return
      }
      this.podMessage = ''
      this.pod = command.pod
      this.stopped = false
    }
    this.kick()
  }

  private run (name: TaskId, action: TaskAction): void {
    const promise = this.execute(action).then(
      event => { if (event !== undefined) this.apply(name, event) },
      (error: unknown) => { this.components.logger.error('task action failed', { task: name, action: action.type, error: (error as Error).message }) }
    ).finally(() => {
      this.actionsInFlight.delete(promise)
      this.kick()
    })
    this.actionsInFlight.add(promise)
  }

  /** Runs an action and answers the event of its outcome; a stop or a kill has none (the process's exit is the outcome). */
  private async execute (action: TaskAction): Promise<TaskEvent | undefined> {
    const runner = this.components.runner
    const failure = (error: unknown): string => (error as Error).message
    switch (action.type) {
      case 'deploy':
        return await runner.deploy(action.task, action.dataVersion).then(
          () => ({ type: 'deployed' as const }), error => ({ type: 'deployFailed' as const, message: failure(error) }))
      case 'start':
        return await runner.start(action.task, action.dataVersion).then(
          process => ({ type: 'started' as const, process }), error => ({ type: 'startFailed' as const, message: failure(error) }))
      case 'stop':
        await runner.stop(action.task, action.process)
        return undefined
      case 'kill':
        await runner.kill(action.task, action.process)
        return undefined
      case 'probe': {
        const result = await runner.probe(action.task, action.health)
        return { type: 'probed', healthy: result.healthy, reason: result.reason }
      }
      case 'reload':
        return await runner.reload(action.task, action.dataVersion).then(
          () => ({ type: 'reloaded' as const }), error => ({ type: 'reloadFailed' as const, message: failure(error) }))
    }
  }

  private apply (name: TaskId, event: TaskEvent): void {
    const state = this.tasks.get(name)
    if (state === undefined) return
    const next = applyTaskEvent(state, event, this.nowMs())
    // A process may end before its start is known: the exit the runner reported then found no running task.
    if (event.type === 'started') this.exitsToCheck.add(name)
    if (next !== state && next.phase !== state.phase) {
      this.components.logger.info('task phase', { task: name, from: state.phase, to: next.phase, message: next.message })
    }
    this.tasks.set(name, next)
  }

  private async save (): Promise<void> {
    const saved: SavedPod = { pod: this.pod, stopped: this.stopped, tasks: [...this.tasks.values()] }
    const text = JSON.stringify(saved)
    if (text === this.savedText) return
    await this.components.store.save(saved)
    this.savedText = text
  }
}

/** A saved task as a new AppWorker takes it on: what was in flight is done again. */
function resumed (task: TaskState): TaskState {
  switch (task.phase) {
    // The files may be half there: deploy again.
    case 'deploying': return { ...task, phase: 'pending', version: '' }
    // A start whose pid was never saved: start again (the runner clears the cgroup first).
    case 'starting': return { ...task, phase: 'deployed' }
    default: return { ...task, probing: false, reload: task.reload === 'reloading' ? 'failed' : task.reload }
  }
}

/** Whether the task has a process that may be running: one whose end is still to be seen. */
function hasProcess (task: TaskState): boolean {
  return task.phase === 'running' || task.phase === 'stopping'
}

function isSameTaskProcess (a: TaskProcess, b: TaskProcess): boolean {
  return a.pid === b.pid && a.startTicks === b.startTicks
}

/** What a status says, without its times: a pull is made early when this changes. */
function statusShape (status: PodStatus): string {
  return JSON.stringify([status.phase, status.version, status.dataVersion, status.healthy, status.message,
    status.tasks.map(task => [task.name, task.phase, task.version, task.pid, task.restarts, task.health, task.reload, task.message])])
}
