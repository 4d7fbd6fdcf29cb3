// The AppWorker's controller over in-memory fakes of its ports and a ManualClock: when it steps,
// what it asks its runner, and that it wakes for what is due (a pull, a probe, a restart, a kill)
// at its time, and otherwise sleeps.
import test from 'ava'
import { ManualClock, type Timer } from '../../../src/lib/clock.js'
import type { TaskId } from '../../../src/lib/ids.js'
import { silentLogger } from '../../../src/lib/logger.js'
import {
  AppWorkerController, appWorkerLimits, type CommandSource, type PodStateStore, type SavedPod, type TaskRunner
} from '../../../src/roles/appworker/appworker-controller.js'
import type { HealthCheck, PodDescription, TaskDescription } from '../../../src/roles/appworker/pod-description.js'
import type { PodCommand, PodStatus, TaskStatus } from '../../../src/roles/appworker/pod-status.js'
import type { TaskExit } from '../../../src/roles/appworker/restart-policy.js'
import { newTaskState, type TaskProcess } from '../../../src/roles/appworker/task-machine.js'

const web: TaskDescription = {
  name: 'web' as TaskId,
  startCommand: './serve',
  stopTimeoutMs: 3000,
  restart: { mode: 'always', attempts: 3, windowMs: 60_000, initialDelayMs: 500, maxDelayMs: 2000 },
  env: {}
}
const checked: HealthCheck = { command: './check', intervalMs: 300, timeoutMs: 100, failures: 2, graceMs: 0 }

function pod (tasks: readonly TaskDescription[] = [web]): PodDescription {
  return { version: 'v1', dataVersion: '', tasks }
}

const crash: Omit<TaskExit, 'atMs'> = { code: 1, signal: null, coreDumped: false, oomKilled: false }

/** A clock that counts the timers set: each step of the controller ends by setting one. */
class CountingClock extends ManualClock {
  timersSet = 0

  override setTimer (delayMs: number, callback: () => void): Timer {
    this.timersSet++
    return super.setTimer(delayMs, callback)
  }
}

/**
 * Processes that are pids: `end` makes one end, reported at once when this runner started it
 * (as a child's exit is), found only by `exitOf` otherwise. Every call is kept with its time.
 */
class FakeRunner implements TaskRunner {
  readonly calls: Array<{ readonly what: string, readonly atMs: number }> = []
  exitOfCalls = 0
  healthy = true
  private nextPid = 1000
  private readonly children = new Set<number>()
  /** How processes ended, by `task:pid`. */
  private readonly exits = new Map<string, TaskExit>()
  private listener: (name: TaskId) => void = () => undefined

  constructor (private readonly clock: ManualClock) {}

  private record (what: string, task: TaskDescription): void {
    this.calls.push({ what: `${what} ${task.name}`, atMs: this.clock.monotonicMs() })
  }

  /** The times of the calls `what` (e.g. `start web`). */
  times (what: string): number[] {
    return this.calls.filter(call => call.what === what).map(call => call.atMs)
  }

  end (name: TaskId, pid: number, exit: Omit<TaskExit, 'atMs'>): void {
    this.exits.set(`${name}:${pid}`, { ...exit, atMs: this.clock.wallMs() })
    if (this.children.has(pid)) this.listener(name)
  }

  async deploy (task: TaskDescription): Promise<void> { this.record('deploy', task) }
  async start (task: TaskDescription): Promise<TaskProcess> {
    this.record('start', task)
    const pid = this.nextPid++
    this.children.add(pid)
    return { pid, startTicks: pid, startedAtMs: this.clock.wallMs() }
  }

  async stop (task: TaskDescription): Promise<void> { this.record('stop', task) }
  async kill (task: TaskDescription, process: TaskProcess): Promise<void> {
    this.record('kill', task)
    this.end(task.name, process.pid, { ...crash, code: null, signal: 'SIGKILL' })
  }

  async exitOf (name: TaskId, process: TaskProcess): Promise<TaskExit | undefined> {
    this.exitOfCalls++
    return this.exits.get(`${name}:${process.pid}`)
  }

  watchExits (listener: (name: TaskId) => void): void { this.listener = listener }
  async probe (task: TaskDescription): Promise<{ healthy: boolean, reason: string }> {
    this.record('probe', task)
    return { healthy: this.healthy, reason: this.healthy ? '' : 'check failed' }
  }

  async reload (task: TaskDescription): Promise<void> { this.record('reload', task) }
  async rotateLogs (): Promise<void> {}
}

/** The node: answers every pull with `command`, keeps each pull's time and status. */
class FakeSource implements CommandSource {
  command: PodCommand = { type: 'wait' }
  readonly pulls: Array<{ readonly atMs: number, readonly status: PodStatus }> = []

  constructor (private readonly clock: ManualClock) {}

  async pull (status: PodStatus): Promise<PodCommand> {
    this.pulls.push({ atMs: this.clock.monotonicMs(), status })
    return this.command
  }

  task (name = 'web'): TaskStatus | undefined {
    return this.pulls.at(-1)?.status.tasks.find(task => task.name === name)
  }
}

class FakeStore implements PodStateStore {
  saved: SavedPod | undefined
  saves = 0
  failing = false

  async load (): Promise<SavedPod | undefined> { return this.saved }
  async save (state: SavedPod): Promise<void> {
    this.saves++
    if (this.failing) throw new Error('disk full')
    this.saved = state
  }
}

async function settle (): Promise<void> {
  await new Promise(resolve => setImmediate(resolve))
}

function world (saved?: SavedPod) {
  const clock = new CountingClock()
  const runner = new FakeRunner(clock)
  const source = new FakeSource(clock)
  const store = new FakeStore()
  store.saved = saved
  const controller = new AppWorkerController({ source, runner, store, clock, logger: silentLogger, portNames: [] })
  /** Moves time on 1 ms at a time, letting each step run (the fakes answer at once). */
  const runFor = async (ms: number): Promise<void> => {
    for (let i = 0; i < ms; i++) {
      clock.advance(1)
      await settle()
    }
  }
  return { clock, runner, source, store, controller, runFor }
}

/** Starts a controller told to run `tasks`, until each runs. */
async function running (tasks: readonly TaskDescription[] = [web]) {
  const w = world()
  w.source.command = { type: 'run', pod: pod(tasks) }
  await w.controller.start()
  await w.runFor(100)
  for (const task of tasks) if (w.source.task(task.name)?.phase !== 'running') throw new Error(`${task.name} is not running: ${JSON.stringify(w.source.task(task.name))}`)
  return w
}

test('an idle pod sleeps between its pulls: no look at its own processes, one timer, a pull a second', async t => {
  const w = await running()
  const before = { pulls: w.source.pulls.length, timers: w.clock.timersSet, saves: w.store.saves, exitOfCalls: w.runner.exitOfCalls }
  await w.runFor(10_000)
  t.is(w.source.pulls.length - before.pulls, 10, 'one pull a second')
  t.is(w.runner.exitOfCalls - before.exitOfCalls, 0, 'its children\'s exits are reported, never polled')
  t.is(w.store.saves - before.saves, 0, 'nothing changed, nothing saved')
  t.true(w.clock.timersSet - before.timers <= 2 * 10 + 1, `at most two wake-ups per pull (the pull, its answer), not a tick: ${w.clock.timersSet - before.timers}`)
  t.is(w.clock.pendingTimers(), 1, 'one timer')
  await w.controller.stop()
  t.is(w.clock.pendingTimers(), 0, 'stopped, it sleeps on nothing')
})

test('a crash is seen and told at once, and the task restarts when its backoff ends', async t => {
  const w = await running()
  const pid = w.source.task()?.pid as number
  const crashedAtMs = w.clock.monotonicMs()
  w.runner.end(web.name, pid, crash)
  await settle()
  t.is(w.source.pulls.at(-1)?.atMs, crashedAtMs, 'the new status is pulled at once')
  t.is(w.source.task()?.phase, 'backoff')
  await w.runFor(1000)
  t.deepEqual(w.runner.times('start web').slice(1), [crashedAtMs + web.restart.initialDelayMs], 'restarted at the end of its backoff, to the ms')
  t.is(w.source.task()?.phase, 'running')
  t.is(w.source.task()?.restarts, 1)
  await w.controller.stop()
})

test('probes come at their interval, and a task that does not stop is killed at its deadline', async t => {
  const w = await running([{ ...web, health: checked }])
  const probes = w.runner.times('probe web')
  await w.runFor(1000)
  const later = w.runner.times('probe web').slice(probes.length)
  t.true(later.length >= 3)
  for (const [i, atMs] of later.entries()) t.is(atMs - (later[i - 1] ?? (probes.at(-1) as number)), checked.intervalMs, 'each probe an interval after the last')
  t.is(w.source.task()?.health, 'healthy')

  w.source.command = { type: 'stop' }
  await w.runFor(appWorkerLimits.pullIntervalMs)
  const [stopAtMs] = w.runner.times('stop web')
  t.truthy(stopAtMs)
  t.is(w.source.task()?.phase, 'stopping')
  await w.runFor(web.stopTimeoutMs)
  t.deepEqual(w.runner.times('kill web'), [(stopAtMs as number) + web.stopTimeoutMs], 'killed at the stop deadline, to the ms')
  t.is(w.source.task()?.phase, 'stopped', 'its end is seen at once')
  await w.controller.stop()
})

test('a process an earlier AppWorker started is looked at once a second, until it is replaced by a child', async t => {
  const process = { pid: 77, startTicks: 7, startedAtMs: 0 }
  const state = { ...newTaskState(web.name), phase: 'running' as const, task: web, version: 'v1', process }
  const w = world({ pod: pod(), stopped: false, tasks: [state] })
  w.source.command = { type: 'run', pod: pod() }
  await w.controller.start()
  await w.runFor(4500)
  t.is(w.runner.exitOfCalls, 5, 'at once, then once a second')
  t.is(w.runner.times('start web').length, 0, 're-attached, not started again')
  const endedAtMs = w.clock.monotonicMs()
  w.runner.end(web.name, process.pid, crash)
  await w.runFor(appWorkerLimits.reattachedPollMs + web.restart.initialDelayMs)
  const [startAtMs] = w.runner.times('start web')
  t.truthy(startAtMs, 'its end found by the poll, it restarted')
  t.true((startAtMs as number) - endedAtMs <= appWorkerLimits.reattachedPollMs + web.restart.initialDelayMs)
  const calls = w.runner.exitOfCalls
  await w.runFor(5000)
  t.is(w.runner.exitOfCalls, calls, 'its own child is not polled')
  await w.controller.stop()
})

test('a step that keeps failing is tried again at its retry period, not in a spin', async t => {
  const w = world()
  w.store.failing = true
  w.source.command = { type: 'run', pod: pod() }
  await w.controller.start()
  await w.runFor(1000)
  // In the second second nothing is in flight: the retries, and the step after the pull's answer.
  const saves = w.store.saves
  await w.runFor(1000)
  const retries = 1000 / appWorkerLimits.failedStepRetryMs
  t.true(w.store.saves - saves >= retries && w.store.saves - saves <= retries + 2, `${w.store.saves - saves} saves tried in 1 s`)
  w.store.failing = false
  await w.runFor(appWorkerLimits.failedStepRetryMs)
  t.is(w.store.saved?.tasks[0]?.phase, 'running', 'it carries on once the store works again')
  await w.controller.stop()
})
