import test, { type ExecutionContext } from 'ava'
import type { TaskId } from '../../../src/lib/ids.js'
import { checkPodDescription, type PodDescription, type TaskDescription } from '../../../src/roles/appworker/pod-description.js'
import { podPhase } from '../../../src/roles/appworker/pod-status.js'
import { describeExit, type TaskExit } from '../../../src/roles/appworker/restart-policy.js'
import { applyTaskEvent, newTaskState, nextDueMs, planTask, type TaskAction, type TaskEvent, type TaskState, type TaskTarget } from '../../../src/roles/appworker/task-machine.js'

const web: TaskDescription = {
  name: 'web' as TaskId,
  startCommand: './server',
  stopCommand: './drain',
  stopTimeoutMs: 5000,
  restart: { mode: 'always', attempts: 3, windowMs: 60_000, initialDelayMs: 1000, maxDelayMs: 3000 },
  health: { port: 'http', intervalMs: 1000, timeoutMs: 500, failures: 2, graceMs: 2000 },
  env: {}
}
const process1 = { pid: 101, startTicks: 5, startedAtMs: 0 }
const crash = (atMs: number): TaskExit => ({ code: 1, signal: null, coreDumped: false, oomKilled: false, atMs })

function target (task: TaskDescription = web, options: Partial<TaskTarget> = {}): TaskTarget {
  return { run: true, task, version: 'v1', dataVersion: 'd1', ...options }
}

/** Plans, and answers the state and the action types. */
function plan (state: TaskState, goal: TaskTarget, nowMs: number): [TaskState, string[]] {
  const planned = planTask(state, goal, nowMs)
  return [planned.state, planned.actions.map((action: TaskAction) => action.type)]
}

/** Deploys and starts `task` at time 0, answering the running state. */
function running (task: TaskDescription = web): TaskState {
  let [state, actions] = plan(newTaskState(task.name), target(task), 0)
  assertEqual(actions, ['deploy'])
  state = applyTaskEvent(state, { type: 'deployed' }, 0);
  [state, actions] = plan(state, target(task), 0)
  assertEqual(actions, ['start'])
  return applyTaskEvent(state, { type: 'started', process: process1 }, 0)
}

function assertEqual (actual: unknown, expected: unknown): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${JSON.stringify(actual)} !== ${JSON.stringify(expected)}`)
}

test('deploy, then start; an action in flight is never issued twice', t => {
  let [state, actions] = plan(newTaskState(web.name), target(), 0)
  t.deepEqual(actions, ['deploy'])
  t.is(state.phase, 'deploying');
  [state, actions] = plan(state, target(), 100)
  t.deepEqual(actions, [], 'still deploying')
  state = applyTaskEvent(state, { type: 'deployed' }, 200);
  [state, actions] = plan(state, target(), 200)
  t.deepEqual(actions, ['start']);
  [, actions] = plan(state, target(), 300)
  t.deepEqual(actions, [], 'still starting')
  state = applyTaskEvent(state, { type: 'started', process: process1 }, 400)
  t.is(state.phase, 'running')
  t.is(state.process?.pid, 101)
})

test('a crashing task restarts with exponential backoff, then fails past its limit', t => {
  let state = running()
  const delays: number[] = []
  let nowMs = 10_000
  for (let i = 0; i < 3; i++) {
    state = applyTaskEvent(state, { type: 'exited', exit: crash(nowMs) }, nowMs)
    t.is(state.phase, 'backoff')
    delays.push(state.nextStartMs - nowMs)
    let actions: string[];
    [state, actions] = plan(state, target(), state.nextStartMs - 1)
    t.deepEqual(actions, [], 'not before the delay');
    [state, actions] = plan(state, target(), state.nextStartMs)
    t.deepEqual(actions, ['start'])
    nowMs = state.nextStartMs + 100
    state = applyTaskEvent(state, { type: 'started', process: { ...process1, pid: 200 + i } }, nowMs)
  }
  t.deepEqual(delays, [1000, 2000, 3000], 'doubling, capped at the maximum')
  t.is(state.restarts, 3)
  state = applyTaskEvent(state, { type: 'exited', exit: crash(nowMs) }, nowMs)
  t.is(state.phase, 'failed')
  t.is(state.message, 'exited with code 1; restarted 3 times within 60 s, the most its restart policy allows')
  t.deepEqual(plan(state, target(), nowMs + 100_000)[1], [], 'a failed task stays failed for its version')
})

test('restarts outside the window do not count', t => {
  let state = running()
  let nowMs = 0
  for (let i = 0; i < 6; i++) {
    nowMs += 61_000
    state = applyTaskEvent(state, { type: 'exited', exit: crash(nowMs) }, nowMs)
    t.is(state.phase, 'backoff')
    t.is(state.nextStartMs - nowMs, 1000, 'the first restart of its window')
    state = planTask(state, target(), state.nextStartMs).state
    state = applyTaskEvent(state, { type: 'started', process: process1 }, state.nextStartMs)
  }
})

test('exit 0 finishes a task restarted on failure; OOM kills and signals are failures, described', t => {
  const batch = { ...web, restart: { ...web.restart, mode: 'on-failure' as const } }
  t.is(applyTaskEvent(running(batch), { type: 'exited', exit: { ...crash(0), code: 0 } }, 0).phase, 'finished')
  const oom = applyTaskEvent(running(batch), { type: 'exited', exit: { code: null, signal: 'SIGKILL', coreDumped: false, oomKilled: true, atMs: 0 } }, 0)
  t.is(oom.phase, 'backoff')
  t.is(oom.message, 'killed by the OOM killer (memory limit)')
  t.is(describeExit({ code: null, signal: 'SIGSEGV', coreDumped: true, oomKilled: false, atMs: 0 }), 'killed by SIGSEGV (core dumped)')
  t.is(describeExit({ ...crash(0), code: 127 }), 'exited with code 127 (command not found)')
  const never = { ...web, restart: { ...web.restart, mode: 'never' as const } }
  t.is(applyTaskEvent(running(never), { type: 'exited', exit: crash(0) }, 0).phase, 'failed')
})

test('stop: the stop action, then a kill at the deadline, then stopped when the process ends', t => {
  let [state, actions] = plan(running(), target(web, { run: false }), 1000)
  t.deepEqual(actions, ['stop'])
  t.is(state.phase, 'stopping');
  [state, actions] = plan(state, target(web, { run: false }), 5999)
  t.deepEqual(actions, [], 'within the stop timeout');
  [state, actions] = plan(state, target(web, { run: false }), 6000)
  t.deepEqual(actions, ['kill']);
  [state, actions] = plan(state, target(web, { run: false }), 7000)
  t.deepEqual(actions, [], 'killed once')
  state = applyTaskEvent(state, { type: 'exited', exit: { code: null, signal: 'SIGKILL', coreDumped: false, oomKilled: false, atMs: 7000 } }, 7000)
  t.is(state.phase, 'stopped')
  t.is(state.restarts, 0, 'a stop is not a crash');
  [state, actions] = plan(state, target(), 8000)
  t.deepEqual(actions, ['start'], 'told to run again, it starts without a deploy')
})

test('a new version rebuilds in place: stop, deploy the new version, start, with the restart count reset', t => {
  let state = applyTaskEvent(running(), { type: 'exited', exit: crash(0) }, 0)
  state = planTask(state, target(), state.nextStartMs).state
  state = applyTaskEvent(state, { type: 'started', process: process1 }, 1000)
  t.is(state.restarts, 1)
  const v2 = target(web, { version: 'v2' })
  let actions: string[];
  [state, actions] = plan(state, v2, 2000)
  t.deepEqual(actions, ['stop'])
  state = applyTaskEvent(state, { type: 'exited', exit: { ...crash(2100), code: 143 } }, 2100)
  t.is(state.phase, 'stopped');
  [state, actions] = plan(state, v2, 2200)
  t.deepEqual(actions, ['deploy'])
  t.is(state.version, 'v2')
  t.is(state.restarts, 0)
})

test('a failed deploy fails the task with the reason, and only a new version tries again', t => {
  let [state] = plan(newTaskState(web.name), target(), 0)
  state = applyTaskEvent(state, { type: 'deployFailed', message: 'package http://x/a.tgz: HTTP 404 Not Found' }, 10)
  t.is(state.phase, 'failed')
  t.is(state.message, 'deploy failed: package http://x/a.tgz: HTTP 404 Not Found')
  t.deepEqual(plan(state, target(), 20)[1], [])
  t.deepEqual(plan(state, target(web, { version: 'v2' }), 20)[1], ['deploy'])
})

test('a start that fails goes through the restart policy like a crash', t => {
  let [state] = plan(newTaskState(web.name), target(), 0)
  state = applyTaskEvent(state, { type: 'deployed' }, 0)
  state = planTask(state, target(), 0).state
  state = applyTaskEvent(state, { type: 'startFailed', message: 'spawn /bin/sh ENOENT' }, 0)
  t.is(state.phase, 'backoff')
  t.is(state.message, 'could not start: spawn /bin/sh ENOENT')
})

test('health: no probe before the grace, unhealthy after the failures in a row, healthy again after one success', t => {
  let state = running()
  let actions: string[];
  [state, actions] = plan(state, target(), 1999)
  t.deepEqual(actions, [], 'in the grace period');
  [state, actions] = plan(state, target(), 2000)
  t.deepEqual(actions, ['probe']);
  [state, actions] = plan(state, target(), 2500)
  t.deepEqual(actions, [], 'one probe at a time')
  state = applyTaskEvent(state, { type: 'probed', healthy: false, reason: 'connection refused' }, 2500)
  t.is(state.health, 'unknown', 'one failure is not enough');
  [state, actions] = plan(state, target(), 2599)
  t.deepEqual(actions, []);
  [state, actions] = plan(state, target(), 2600)
  t.deepEqual(actions, ['probe'], 'a failed port check is tried again 100 ms later')
  state = applyTaskEvent(state, { type: 'probed', healthy: false, reason: 'connection refused' }, 2600)
  t.is(state.healthFailures, 1, 'failures count once per interval, however often the port is tried')
  t.is(state.health, 'unknown')
  state = planTask(state, target(), 3500).state
  state = applyTaskEvent(state, { type: 'probed', healthy: false, reason: 'connection refused' }, 3500)
  t.is(state.health, 'unhealthy')
  t.is(state.message, 'unhealthy: connection refused')
  state = planTask(state, target(), 4500).state
  state = applyTaskEvent(state, { type: 'probed', healthy: true, reason: '' }, 4500)
  t.is(state.health, 'healthy');
  [state, actions] = plan(state, target(), 5499)
  t.deepEqual(actions, [], 'a healthy task is checked at the interval')
})

test('a new data version reloads a running task; without a reload command or data package it is taken as is', t => {
  let [state, actions] = plan(running(), target(web, { dataVersion: 'd2' }), 100)
  t.deepEqual(actions, [], 'no reload command')
  t.is(state.dataVersion, 'd2')
  const reloadable = { ...web, reloadCommand: './reload', health: undefined };
  [state, actions] = plan(running(reloadable), target(reloadable, { dataVersion: 'd2' }), 100)
  t.deepEqual(actions, ['reload'])
  t.is(state.reload, 'reloading');
  [, actions] = plan(state, target(reloadable, { dataVersion: 'd2' }), 200)
  t.deepEqual(actions, [], 'reloaded once')
  t.is(applyTaskEvent(state, { type: 'reloadFailed', message: 'exit 2' }, 300).message, 'reload failed: exit 2')
  t.is(applyTaskEvent(state, { type: 'reloaded' }, 300).phase, 'running', 'the process is kept')
  const withData = { ...web, dataPackage: { url: 'http://127.0.0.1:1/data.tgz' }, health: undefined };
  [state, actions] = plan(running(withData), target(withData, { dataVersion: 'd2' }), 100)
  t.deepEqual(actions, ['reload'], 'a data package alone is fetched again')
})

test('nextDueMs names the probe, the kill and the restart times, and nothing while an action is in flight', t => {
  let state = running()
  t.is(nextDueMs(state, target()), 2000, 'the first probe, after the grace')
  t.is(nextDueMs(state, target({ ...web, health: undefined })), 2000, 'the health check is the deployed description\'s')
  t.is(nextDueMs(running({ ...web, health: undefined }), target()), Infinity, 'a running task without a health check waits for events only')
  state = planTask(state, target(), 2000).state
  t.is(nextDueMs(state, target()), Infinity, 'a probe in flight')
  t.is(nextDueMs(state, target(web, { run: false })), -Infinity, 'a stop is due at once')
  t.is(nextDueMs(state, target(web, { dataVersion: 'd2' })), -Infinity, 'so is a new data version')
  state = planTask(state, target(web, { run: false }), 3000).state
  t.is(nextDueMs(state, target(web, { run: false })), 8000, 'the kill, at the stop deadline')
  state = planTask(state, target(web, { run: false }), 8000).state
  t.is(nextDueMs(state, target(web, { run: false })), Infinity, 'killed: the exit is an event')
  state = applyTaskEvent(running(), { type: 'exited', exit: crash(500) }, 500)
  t.is(nextDueMs(state, target()), 1500, 'the restart, after the backoff')
  t.is(nextDueMs(state, target(web, { version: 'v2' })), -Infinity, 'a new version ends the backoff at once')
  t.is(nextDueMs(newTaskState(web.name), target()), -Infinity, 'a new task deploys at once')
  t.is(nextDueMs(newTaskState(web.name), undefined), Infinity, 'a task without a target is only forgotten')
})

/** One step of a scripted run: plan at a time (`due`: at the state's next due time), set the target, or an event. */
type Step =
  | { readonly plan: number | 'due' }
  | { readonly target: Partial<TaskTarget> }
  | { readonly event: TaskEvent, readonly atMs: number }

/** Whether planning at `nowMs` does anything: a new state or an action. */
function acts (state: TaskState, goal: TaskTarget, nowMs: number): boolean {
  const planned = planTask(state, goal, nowMs)
  return planned.state !== state || planned.actions.length > 0
}

/**
 * Checks `nextDueMs` against `planTask` for one state and target: nothing at any of a spread of
 * times before it, something at it and at times after it. Answers what went wrong, or undefined.
 */
function dueProblem (state: TaskState, goal: TaskTarget): string | undefined {
  const dueMs = nextDueMs(state, goal)
  const far = 1e13
  const probes = Number.isFinite(dueMs) ? [-far, dueMs - 100_000, dueMs - 1000, dueMs - 1, dueMs, dueMs + 1, dueMs + 100_000, far] : [-far, -1, 0, 1, 1e6, far]
  for (const atMs of probes) {
    const expected = atMs >= dueMs
    if (acts(state, goal, atMs) !== expected) return `nextDueMs ${dueMs}, but planning at ${atMs} ${expected ? 'does nothing' : 'acts'}`
  }
  return undefined
}

function targetOf (task: TaskDescription, changes: Partial<TaskTarget>): TaskTarget {
  return { ...target(task), ...changes }
}

/**
 * Runs `steps` from a new task, and after each checks `nextDueMs` against `planTask` for the
 * script's target and for the targets that could come next (stop, a new version, a new data version).
 */
function checkScript (t: ExecutionContext, name: string, task: TaskDescription, steps: readonly Step[]): void {
  let state = newTaskState(task.name)
  let changes: Partial<TaskTarget> = {}
  let nowMs = 0
  let checked = 0
  for (const [index, step] of steps.entries()) {
    if ('target' in step) {
      changes = { ...changes, ...step.target }
    } else if ('event' in step) {
      nowMs = step.atMs
      state = applyTaskEvent(state, step.event, nowMs)
    } else {
      const dueMs = nextDueMs(state, targetOf(task, changes))
      if (step.plan === 'due') t.true(Number.isFinite(dueMs) || dueMs === -Infinity, `${name}, step ${index}: something is due`)
      nowMs = step.plan === 'due' ? Math.max(nowMs, dueMs) : step.plan
      state = planTask(state, targetOf(task, changes), nowMs).state
    }
    for (const goal of [changes, { ...changes, run: false }, { ...changes, version: 'v9' }, { ...changes, dataVersion: 'd9' }]) {
      const problem = dueProblem(state, targetOf(task, goal))
      if (problem !== undefined) t.fail(`${name}, step ${index} (${state.phase}), target ${JSON.stringify(goal)}: ${problem}`)
      checked++
    }
  }
  t.true(checked > 0)
}

test('nextDueMs agrees with planTask: nothing before it, something at it, for the states of scripted runs', t => {
  const started = (pid: number, atMs: number): Step => ({ event: { type: 'started', process: { ...process1, pid } }, atMs })
  const probed = (healthy: boolean, atMs: number): Step => ({ event: { type: 'probed', healthy, reason: healthy ? '' : 'refused' }, atMs })
  const exited = (atMs: number, code = 1): Step => ({ event: { type: 'exited', exit: { ...crash(atMs), code } }, atMs })
  checkScript(t, 'a service with a health check', web, [
    { plan: 0 }, { event: { type: 'deployed' }, atMs: 5 }, { plan: 5 }, started(101, 10),
    { plan: 'due' }, probed(false, 2050), { plan: 'due' }, probed(false, 2160), { plan: 'due' }, probed(true, 2300), { plan: 'due' }, probed(true, 3310),
    exited(3500), { plan: 3600 }, { plan: 'due' }, started(102, 4600), { plan: 4700 },
    { target: { run: false } }, { plan: 5000 }, { plan: 9000 }, { plan: 'due' }, exited(10_010, 137), { plan: 10_100 },
    { target: { run: true } }, { plan: 11_000 }, started(103, 11_010), { plan: 'due' },
    { target: { version: 'v2' } }, { plan: 12_000 }, probed(true, 12_005), exited(12_010, 143), { plan: 12_020 }, { plan: 12_030 },
    { event: { type: 'deployFailed', message: '404' }, atMs: 12_040 }, { plan: 12_050 }
  ])
  const reloading = { ...web, health: undefined, stopTimeoutMs: 0, reloadCommand: './reload' }
  checkScript(t, 'a task with a reload command and no stop timeout', reloading, [
    { plan: 0 }, { event: { type: 'deployed' }, atMs: 0 }, { plan: 0 }, started(101, 0), { plan: 100 },
    { target: { dataVersion: 'd2' } }, { plan: 200 }, { plan: 300 }, { event: { type: 'reloadFailed', message: 'exit 2' }, atMs: 400 }, { plan: 500 },
    { target: { dataVersion: 'd3' } }, { plan: 600 }, { event: { type: 'reloaded' }, atMs: 700 },
    { target: { run: false } }, { plan: 800 }, { plan: 'due' }, exited(900, 137), { plan: 1000 }
  ])
  const batch = { ...web, health: undefined, restart: { ...web.restart, mode: 'on-failure' as const } }
  checkScript(t, 'a batch task that crashes, is rebuilt during its backoff, then finishes', batch, [
    { plan: 0 }, { event: { type: 'deployed' }, atMs: 0 }, { target: { run: false } }, { plan: 10 }, { plan: 20 },
    { target: { run: true } }, { plan: 30 }, { event: { type: 'startFailed', message: 'ENOENT' }, atMs: 40 }, { plan: 50 },
    { target: { version: 'v2' } }, { plan: 60 }, { plan: 70 }, { event: { type: 'deployed' }, atMs: 80 }, { plan: 90 }, started(101, 100),
    exited(200), { plan: 'due' }, started(102, 1300), exited(1400), { plan: 'due' }, started(103, 3500), exited(3600, 0), { plan: 3700 }
  ])
  checkScript(t, 'a task that keeps crashing until it fails', { ...web, health: undefined }, [
    { plan: 0 }, { event: { type: 'deployed' }, atMs: 0 }, { plan: 0 }, started(101, 0),
    exited(10), { plan: 'due' }, started(102, 1010), exited(1020), { plan: 'due' }, started(103, 3020), exited(3030), { plan: 'due' }, started(104, 6030), exited(6040), { plan: 7000 }
  ])
})

test('the pod phase sums its tasks up', t => {
  const at = (phase: TaskState['phase']): TaskState => ({ ...newTaskState('a' as TaskId), phase })
  t.is(podPhase([at('running'), at('running')]), 'running')
  t.is(podPhase([at('running'), at('backoff')]), 'starting')
  t.is(podPhase([at('running'), at('failed')]), 'failed')
  t.is(podPhase([at('finished'), at('running')]), 'running')
  t.is(podPhase([at('finished'), at('finished')]), 'finished')
  t.is(podPhase([at('stopped'), at('stopping')]), 'stopping')
  t.is(podPhase([at('stopped'), at('stopped')]), 'stopped')
})

test('a pod description is checked before anything runs', t => {
  const pod: PodDescription = { version: 'v1', dataVersion: '', tasks: [web] }
  t.is(checkPodDescription(pod, ['http']), undefined)
  t.is(checkPodDescription(pod, []), 'task web: the health check port http is not one of the pod\'s ports')
  t.is(checkPodDescription({ ...pod, tasks: [web, web] }, ['http']), 'task web appears twice')
  t.is(checkPodDescription({ ...pod, tasks: [{ ...web, startCommand: ' ' }] }, ['http']), 'task web: needs a start command')
  t.is(checkPodDescription({ ...pod, tasks: [{ ...web, package: { url: 'http://x', sha256: 'abc' } }] }, ['http']), 'task web: the package sha256 must be 64 lower-case hex digits')
  t.is(checkPodDescription({ ...pod, version: '' }, ['http']), 'a pod needs a version')
})
