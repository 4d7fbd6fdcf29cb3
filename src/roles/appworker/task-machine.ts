import type { TaskId } from '../../lib/ids.js'
import type { HealthCheck, TaskDescription } from './pod-description.js'
import { decideRestart, describeExit, isSuccess, type TaskExit } from './restart-policy.js'

/**
 * Where a task is. `deploying` and `starting` wait for the outcome of an action; `backoff` waits
 * to be started again; `stopping` waits for the process to end (killed at the stop deadline);
 * `finished` ended as its policy wants; `failed` ended for good (a deploy that failed, a task that
 * kept crashing) until a new version.
 */
export type TaskPhase = 'pending' | 'deploying' | 'deployed' | 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped' | 'finished' | 'failed'

/** Named times of a task. */
export const taskTimings = {
  /** After a failed port check, the next one comes this soon (a TCP connect is cheap), or at the interval if sooner. */
  portRetryMs: 100
} as const

/** A started task's process: its pid and start time (so that a reused pid is never taken for it). */
export interface TaskProcess {
  readonly pid: number
  readonly startTicks: number
  readonly startedAtMs: number
}

/** Everything known about one task; plain data, saved in the AppWorker's state file. */
export interface TaskState {
  readonly name: TaskId
  readonly phase: TaskPhase
  /** The description it was last deployed (or tried) with; its stop command is what stops it. */
  readonly task: TaskDescription | undefined
  /** The pod version of its files: deployed, or being deployed. */
  readonly version: string
  readonly dataVersion: string
  readonly process: TaskProcess | undefined
  /** Restarts since the last deploy. */
  readonly restarts: number
  readonly restartTimesMs: readonly number[]
  readonly nextStartMs: number
  readonly lastExit: TaskExit | undefined
  readonly health: 'unknown' | 'healthy' | 'unhealthy'
  readonly healthFailures: number
  /** When the last failure that counted toward `failures` was seen (absent before any). */
  readonly failureCountedMs?: number | undefined
  readonly nextProbeMs: number
  readonly probing: boolean
  readonly stopDeadlineMs: number
  readonly killed: boolean
  readonly reload: 'none' | 'reloading' | 'reloaded' | 'failed'
  /** The last thing that went wrong, in words; empty when nothing did. */
  readonly message: string
}

/** What the task should be: running `task` at `version` and `dataVersion`, or stopped. */
export interface TaskTarget {
  readonly run: boolean
  readonly task: TaskDescription
  readonly version: string
  readonly dataVersion: string
}

/** What the controller does for a task; each outcome comes back as a `TaskEvent`. */
export type TaskAction =
  | { readonly type: 'deploy', readonly task: TaskDescription, readonly version: string, readonly dataVersion: string }
  | { readonly type: 'start', readonly task: TaskDescription, readonly dataVersion: string }
  | { readonly type: 'stop', readonly task: TaskDescription, readonly process: TaskProcess }
  | { readonly type: 'kill', readonly task: TaskDescription, readonly process: TaskProcess }
  | { readonly type: 'probe', readonly task: TaskDescription, readonly health: HealthCheck }
  | { readonly type: 'reload', readonly task: TaskDescription, readonly dataVersion: string }

/** What happened to a task: the outcome of an action, or its process ending. */
export type TaskEvent =
  | { readonly type: 'deployed' }
  | { readonly type: 'deployFailed', readonly message: string }
  | { readonly type: 'started', readonly process: TaskProcess }
  | { readonly type: 'startFailed', readonly message: string }
  | { readonly type: 'exited', readonly exit: TaskExit }
  | { readonly type: 'probed', readonly healthy: boolean, readonly reason: string }
  | { readonly type: 'reloaded' }
  | { readonly type: 'reloadFailed', readonly message: string }

/** A task not yet deployed. */
export function newTaskState (name: TaskId): TaskState {
  return {
    name,
    phase: 'pending',
    task: undefined,
    version: '',
    dataVersion: '',
    process: undefined,
    restarts: 0,
    restartTimesMs: [],
    nextStartMs: 0,
    lastExit: undefined,
    health: 'unknown',
    healthFailures: 0,
    nextProbeMs: 0,
    probing: false,
    stopDeadlineMs: 0,
    killed: false,
    reload: 'none',
    message: ''
  }
}

/**
 * One step towards `target` (level-triggered: the whole state and target, every time): the next
 * state and the actions to run. An action in flight (`deploying`, `starting`, a probe, a reload)
 * is never issued twice. A new version stops the task first, then deploys and starts it in place.
 */
export function planTask (state: TaskState, target: TaskTarget, nowMs: number): { state: TaskState, actions: TaskAction[] } {
  const needsStop = !target.run || target.version !== state.version
  const task = state.task ?? target.task
  switch (state.phase) {
    case 'deploying':
    case 'starting':
      return { state, actions: [] }
    case 'running': {
      if (needsStop) return stop(state, task, nowMs)
      return planRunning(state, target, nowMs)
    }
    case 'stopping': {
      if (state.killed || nowMs < state.stopDeadlineMs || state.process === undefined) return { state, actions: [] }
      return { state: { ...state, killed: true }, actions: [{ type: 'kill', task, process: state.process }] }
    }
    case 'backoff': {
      if (needsStop) return { state: { ...state, phase: 'stopped' }, actions: [] }
      if (nowMs < state.nextStartMs) return { state, actions: [] }
      return start(state, target)
    }
    default: {
      if (!target.run) return { state: state.phase === 'deployed' ? { ...state, phase: 'stopped' } : state, actions: [] }
      if (target.version !== state.version) return deploy(state, target)
      if (state.phase === 'deployed' || state.phase === 'stopped') return start(state, target)
      return { state, actions: [] }
    }
  }
}

/**
 * When `planTask(state, target, t)` next does something (answers a new state or an action) for
 * no other reason than time passing: for every t before it, it answers `state` itself and no
 * action; from it on, it acts. `-Infinity` when it acts whatever the time (it has a step to take
 * now), `Infinity` when only an event or a new target can make it act. The times are the probe
 * (`nextProbeMs`, running with a health check and no probe in flight), the kill (`stopDeadlineMs`,
 * stopping and not killed yet) and the restart (`nextStartMs`, in backoff). A task without a
 * target is only forgotten, which no time brings.
 */
export function nextDueMs (state: TaskState, target: TaskTarget | undefined): number {
  if (target === undefined) return Infinity
  const needsStop = !target.run || target.version !== state.version
  switch (state.phase) {
    case 'deploying':
    case 'starting':
      return Infinity
    case 'running': {
      if (needsStop) return -Infinity
      if (target.dataVersion !== state.dataVersion && state.reload !== 'reloading') return -Infinity
      return state.task?.health !== undefined && !state.probing ? state.nextProbeMs : Infinity
    }
    case 'stopping':
      return state.killed || state.process === undefined ? Infinity : state.stopDeadlineMs
    case 'backoff':
      return needsStop ? -Infinity : state.nextStartMs
    default: {
      if (!target.run) return state.phase === 'deployed' ? -Infinity : Infinity
      const isIdle = target.version === state.version && state.phase !== 'deployed' && state.phase !== 'stopped'
      return isIdle ? Infinity : -Infinity
    }
  }
}

/** The state after `event`; events that no longer fit the phase (a late probe, say) change nothing but what they must. */
export function applyTaskEvent (state: TaskState, event: TaskEvent, nowMs: number): TaskState {
  switch (event.type) {
    case 'deployed':
      return state.phase === 'deploying' ? { ...state, phase: 'deployed', message: '' } : state
    case 'deployFailed':
      return state.phase === 'deploying' ? { ...state, phase: 'failed', message: `deploy failed: ${event.message}` } : state
    case 'started':
      if (state.phase !== 'starting') return state
      return {
        ...state,
        phase: 'running',
        process: event.process,
        health: 'unknown',
        healthFailures: 0,
        failureCountedMs: undefined,
        probing: false,
        nextProbeMs: nowMs + (state.task?.health?.graceMs ?? 0),
        killed: false
      }
    case 'startFailed':
      return state.phase === 'starting' ? ended({ ...state, process: undefined }, false, `could not start: ${event.message}`, nowMs) : state
    case 'exited': {
      const after = { ...state, process: undefined, lastExit: event.exit, probing: false, health: 'unknown' as const }
      if (state.phase === 'stopping') return { ...after, phase: 'stopped' }
      if (state.phase !== 'running') return state
      return ended(after, isSuccess(event.exit), describeExit(event.exit), nowMs)
    }
    case 'probed': {
      if (state.phase !== 'running' || !state.probing) return { ...state, probing: false }
      const health = state.task?.health
      const interval = health?.intervalMs ?? 0
      if (event.healthy) return { ...state, probing: false, health: 'healthy', healthFailures: 0, failureCountedMs: undefined, nextProbeMs: nowMs + interval }
      // Failures count at most one per interval, as if probed at the interval; a failed port check
      // is tried again sooner, so that a server that begins listening is seen healthy at once.
      const counts = state.failureCountedMs === undefined || nowMs >= state.failureCountedMs + interval
      const failures = state.healthFailures + (counts ? 1 : 0)
      const unhealthy = failures >= (health?.failures ?? 1)
      return {
        ...state,
        probing: false,
        healthFailures: failures,
        failureCountedMs: counts ? nowMs : state.failureCountedMs,
        health: unhealthy ? 'unhealthy' : state.health,
        nextProbeMs: nowMs + (health?.port !== undefined ? Math.min(interval, taskTimings.portRetryMs) : interval),
        message: unhealthy ? `unhealthy: ${event.reason}` : state.message
      }
    }
    case 'reloaded':
      return state.reload === 'reloading' ? { ...state, reload: 'reloaded' } : state
    case 'reloadFailed':
      return state.reload === 'reloading' ? { ...state, reload: 'failed', message: `reload failed: ${event.message}` } : state
  }
}

function planRunning (state: TaskState, target: TaskTarget, nowMs: number): { state: TaskState, actions: TaskAction[] } {
  let next = state
  const actions: TaskAction[] = []
  const health = state.task?.health
  if (health !== undefined && !state.probing && nowMs >= state.nextProbeMs) {
    next = { ...next, probing: true }
    actions.push({ type: 'probe', task: target.task, health })
  }
  if (target.dataVersion !== state.dataVersion && state.reload !== 'reloading') {
    if (target.task.reloadCommand === undefined && target.task.dataPackage === undefined) {
      // Nothing to fetch or run: the new data version is taken as is.
      next = { ...next, dataVersion: target.dataVersion, reload: 'reloaded' }
    } else {
      next = { ...next, dataVersion: target.dataVersion, reload: 'reloading' }
      actions.push({ type: 'reload', task: target.task, dataVersion: target.dataVersion })
    }
  }
  return { state: next, actions }
}

function stop (state: TaskState, task: TaskDescription, nowMs: number): { state: TaskState, actions: TaskAction[] } {
  if (state.process === undefined) return { state: { ...state, phase: 'stopped' }, actions: [] }
  return {
    state: { ...state, phase: 'stopping', stopDeadlineMs: nowMs + task.stopTimeoutMs, killed: false },
    actions: [{ type: 'stop', task, process: state.process }]
  }
}

function deploy (state: TaskState, target: TaskTarget): { state: TaskState, actions: TaskAction[] } {
  return {
    state: {
      ...newTaskState(state.name),
      phase: 'deploying',
      task: target.task,
      version: target.version,
      dataVersion: target.dataVersion,
      lastExit: state.lastExit
    },
    actions: [{ type: 'deploy', task: target.task, version: target.version, dataVersion: target.dataVersion }]
  }
}

function start (state: TaskState, target: TaskTarget): { state: TaskState, actions: TaskAction[] } {
  return {
    state: { ...state, phase: 'starting', task: target.task, dataVersion: target.dataVersion, reload: 'none' },
    actions: [{ type: 'start', task: target.task, dataVersion: target.dataVersion }]
  }
}

/** A task that was running has ended: backoff, finished or failed, as its restart policy says. */
function ended (state: TaskState, succeeded: boolean, what: string, nowMs: number): TaskState {
  const policy = state.task?.restart
  if (policy === undefined) return { ...state, phase: 'failed', message: what }
  const decision = decideRestart(policy, succeeded, state.restartTimesMs, nowMs)
  if (decision.type === 'finished') return { ...state, phase: 'finished', message: succeeded ? '' : what }
  if (decision.type === 'failed') return { ...state, phase: 'failed', message: `${what}; ${decision.reason}` }
  return {
    ...state,
    phase: 'backoff',
    restarts: state.restarts + 1,
    restartTimesMs: decision.restartTimesMs,
    nextStartMs: nowMs + decision.delayMs,
    message: what
  }
}
