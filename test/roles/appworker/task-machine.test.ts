import test from 'ava'
import type { TaskId } from '../../../src/lib/ids.js'
import { checkPodDescription, type PodDescription, type TaskDescription } from '../../../src/roles/appworker/pod-description.js'
import { podPhase } from '../../../src/roles/appworker/pod-status.js'
import { describeExit, type TaskExit } from '../../../src/roles/appworker/restart-policy.js'
import { applyTaskEvent, newTaskState, planTask, type TaskAction, type TaskState, type TaskTarget } from '../../../src/roles/appworker/task-machine.js'

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
