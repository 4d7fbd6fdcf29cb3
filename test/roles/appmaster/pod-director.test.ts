import test from 'ava'
import type { ContainerId, NodeId, PodId, TaskId } from '../../../src/lib/ids.js'
import { answerPull, appMasterTimings, lostPods, podRecordOf, settleJob, type KnownPod, type PodPull } from '../../../src/roles/appmaster/pod-director.js'
import type { PodCommand, PodPhase, PodStatus, TaskStatus } from '../../../src/roles/appworker/pod-status.js'
import { operateJob, type JobOperation, type JobRecord } from '../../../src/roles/job/job-record.js'
import { parseJobSpec } from '../../../src/roles/job/job-spec.js'
import { versionShape } from '../../../src/roles/job/pod-of-spec.js'

const specText = (deploy: string): string => `
name: web
replica: 6
deploy: ${deploy}
pod:
  tasks:
    - { name: server, cpu: 100m, memory: 64MB, ports: [{ name: http }], start: ./server }
  services: [{ name: web, port: http }]
`

function operate (record: JobRecord | undefined, operation: JobOperation, nowMs = 0): JobRecord {
  const result = operateJob(record, operation, nowMs)
  if (!result.ok) throw new Error(result.error)
  return result.value
}

function submit (record: JobRecord | undefined, podVersion: string, deploy = '{ step: 2 }'): JobRecord {
  const parsed = parseJobSpec(specText(deploy))
  if (!parsed.ok) throw new Error(parsed.error.join('; '))
  return operate(record, { type: 'submit', version: { version: `v-${podVersion}`, podVersion, dataVersion: '', spec: parsed.value } })
}

/** A job running p1 on its 6 pods, then updated to p2. */
function updating (deploy?: string): JobRecord {
  return submit({ ...submit(undefined, 'p1', deploy), state: 'running' }, 'p2', deploy)
}

/** The container shape of every version of `specText`. */
const webShape = versionShape(updating().current)

/**
 * A simulated AppWorker: it reports its state, then adopts a new version it is told (deploying),
 * and serves at the pull after. Its container has `shape` (the spec's by default); one told to
 * quit stops, and by its next pull the ResMan has made it again: a new container, fresh.
 */
interface Worker { version: string, phase: PodPhase, healthy: boolean, shape?: string, container?: number }
const status = (worker: Worker, message = ''): PodStatus => ({ version: worker.version, phase: worker.phase, healthy: worker.healthy, dataVersion: '', tasks: [], message })
const pullOf = (index: number, worker: Worker): PodPull => ({
  pod: `web.${index}` as PodId,
  container: `web.${index}.c${worker.container ?? 0}` as ContainerId,
  node: 'N1' as NodeId,
  host: '10.0.0.1',
  ports: { http: 31000 + index },
  shape: worker.shape ?? webShape,
  status: status(worker)
})
const serving = (version: string): Worker => ({ version, phase: 'running', healthy: true })
const isServing = (worker: Worker): boolean => worker.phase === 'running' && worker.healthy

class Cluster {
  readonly workers: Worker[]
  pods = new Map<string, KnownPod>()
  nowMs = 1000
  maxNotServing = 0
  constructor (public job: JobRecord, versions: string[]) { this.workers = versions.map(version => version === '' ? { version, phase: 'pending', healthy: false } : serving(version)) }

  pull (index: number): PodCommand {
    const worker = this.workers[index] as Worker
    if (worker.phase === 'stopped') Object.assign(worker, { version: '', phase: 'pending', healthy: false, shape: undefined, container: (worker.container ?? 0) + 1 })
    const { command, pod } = answerPull(this.job, this.pods, pullOf(index, worker), this.nowMs)
    this.pods = new Map(this.pods).set(pod.pull.pod, pod)
    if (worker.phase === 'deploying') Object.assign(worker, serving(worker.version))
    if (command.type === 'run' && command.pod.version !== worker.version) Object.assign(worker, { version: command.pod.version, phase: 'deploying', healthy: false })
    if (command.type === 'quit') Object.assign(worker, { phase: 'stopped', healthy: false })
    this.maxNotServing = Math.max(this.maxNotServing, this.workers.filter(each => !isServing(each)).length)
    return command
  }

  /** Every pod pulls once, a second apart, then the job is settled. */
  round (): string[] {
    const commands = this.workers.map((_worker, index) => { this.nowMs += 1000; return this.pull(index).type })
    this.job = settleJob(this.job, this.pods, this.nowMs) ?? this.job
    return commands
  }

  rounds (count: number): void { for (let i = 0; i < count; i++) this.round() }
  /** The same pods under another record of the job (after an operation), as a separate cluster. */
  fork (job: JobRecord): Cluster {
    const copy = new Cluster(job, [])
    copy.workers.push(...this.workers.map(worker => ({ ...worker })))
    Object.assign(copy, { pods: this.pods, nowMs: this.nowMs })
    return copy
  }
  versions (): string { return this.workers.map(worker => worker.version).join(' ') }
}

test('a fresh pod is told to run the current version at once, whatever the step', t => {
  const cluster = new Cluster(updating('{ step: 1 }'), ['p1', 'p1', '', '', '', ''])
  t.deepEqual(cluster.round(), ['run', 'wait', 'run', 'run', 'run', 'run'])
  t.like(cluster.pull(2), { type: 'run', pod: { version: 'p2', dataVersion: '' } })
})

test('pods of a stopping job, and pods past the replica, are stopped', t => {
  const job = submit(undefined, 'p1')
  const stopped = operate(job, { type: 'stop' })
  t.is(answerPull(stopped, new Map(), pullOf(0, serving('p1')), 0).command.type, 'stop')
  t.is(answerPull({ ...job, state: 'finished' }, new Map(), pullOf(0, serving('p1')), 0).command.type, 'stop')
  t.is(answerPull(job, new Map(), pullOf(6, serving('p1')), 0).command.type, 'stop')
  t.is(answerPull(job, new Map(), { ...pullOf(0, serving('p1')), pod: 'other.0' as PodId }, 0).command.type, 'stop')
  t.is(answerPull(job, new Map(), pullOf(5, serving('p1')), 0).command.type, 'run')
})

test('a pending job runs once its first pod pulled', t => {
  const cluster = new Cluster(submit(undefined, 'p1'), ['', '', '', '', '', ''])
  t.is(settleJob(cluster.job, cluster.pods, 0), undefined)
  cluster.pull(0)
  t.like(settleJob(cluster.job, cluster.pods, cluster.nowMs), { state: 'running', history: [{ event: 'submit' }, { event: 'running', version: 'v-p1' }] })
})

test('a rolling update of 6 pods with step 2 never has more than 2 out of service, and ends with all at the new version', t => {
  const cluster = new Cluster(updating(), ['p1', 'p1', 'p1', 'p1', 'p1', 'p1'])
  t.deepEqual(cluster.round(), ['run', 'run', 'wait', 'wait', 'wait', 'wait'])
  for (let i = 0; i < 10 && cluster.job.state === 'updating'; i++) cluster.round()
  t.is(cluster.maxNotServing, 2)
  t.is(cluster.versions(), 'p2 p2 p2 p2 p2 p2')
  t.is(cluster.job.state, 'running')
  t.like(cluster.job.history.at(-1), { event: 'updated', version: 'v-p2' })
  t.deepEqual(cluster.round(), ['run', 'run', 'run', 'run', 'run', 'run'])
})

test('a resource change moves pods by quit, step at a time: each is made again in a new container and runs the new version there', t => {
  const cluster = new Cluster(updating(), ['p1', 'p1', 'p1', 'p1', 'p1', 'p1'])
  for (const worker of cluster.workers) worker.shape = 'the old shape'
  t.deepEqual(cluster.round(), ['quit', 'quit', 'wait', 'wait', 'wait', 'wait'])
  t.deepEqual(cluster.round(), ['run', 'run', 'wait', 'wait', 'wait', 'wait'], 'made again: told to run at once, still holding the step')
  for (let i = 0; i < 12 && cluster.job.state === 'updating'; i++) cluster.round()
  t.is(cluster.maxNotServing, 2)
  t.is(cluster.versions(), 'p2 p2 p2 p2 p2 p2')
  t.deepEqual(cluster.workers.map(worker => worker.container), [1, 1, 1, 1, 1, 1])
  t.is(cluster.job.state, 'running')

  const paused = new Cluster(updating('{ step: 2, breakpoint: 2 }'), ['p1', 'p1', 'p1', 'p1', 'p1', 'p1'])
  for (const worker of paused.workers) worker.shape = 'the old shape'
  paused.rounds(6)
  t.is(paused.job.state, 'paused')
  t.deepEqual(paused.workers.map(worker => worker.container ?? 0), [1, 1, 0, 0, 0, 0], 'no pod quits past the breakpoint')
})

test('a new version during an update supersedes it: pods still moving to the old target hold their step slots, all end at the newest', t => {
  const cluster = new Cluster(updating(), ['p1', 'p1', 'p1', 'p1', 'p1', 'p1'])
  t.deepEqual(cluster.round(), ['run', 'run', 'wait', 'wait', 'wait', 'wait'])
  cluster.job = submit(cluster.job, 'p3')
  t.like(cluster.job, { state: 'updating', current: { podVersion: 'p3' }, previous: { podVersion: 'p1' } })
  t.is(cluster.versions(), 'p2 p2 p1 p1 p1 p1')
  t.deepEqual([cluster.pull(0).type, cluster.pull(1).type, cluster.pull(2).type], ['run', 'run', 'wait'], 'the two pods on their way to p2 move on to p3; no third')
  for (let i = 0; i < 12 && cluster.job.state === 'updating'; i++) cluster.round()
  t.is(cluster.maxNotServing, 2)
  t.is(cluster.versions(), 'p3 p3 p3 p3 p3 p3')
  t.is(cluster.job.state, 'running')
})

test('a pod that crashed at the target takes a step slot, and admissions wait for it', t => {
  const cluster = new Cluster(updating('{ step: 1 }'), ['p2', 'p1', 'p1', 'p1', 'p1', 'p1'])
  cluster.workers[0] = { version: 'p2', phase: 'failed', healthy: false }
  t.deepEqual(cluster.round(), ['run', 'wait', 'wait', 'wait', 'wait', 'wait'])
  t.is(cluster.pods.get('web.1')?.admitted, undefined)
})

test('the next pods are admitted only once the interval has passed since the latest updated pod began serving', t => {
  const cluster = new Cluster(updating('{ step: 1, interval: 5s }'), ['p1', 'p1', 'p1', 'p1', 'p1', 'p1'])
  const admissions: number[] = []
  for (let i = 0; i < 200 && cluster.job.state === 'updating'; i++) {
    cluster.nowMs += 1000
    const index = i % 6
    const before = cluster.pods.get(`web.${index}`)?.admitted
    cluster.pull(index)
    const after = cluster.pods.get(`web.${index}`)?.admitted
    if (after !== undefined && after !== before) admissions.push(after.atMs)
    cluster.job = settleJob(cluster.job, cluster.pods, cluster.nowMs) ?? cluster.job
  }
  t.is(cluster.job.state, 'running')
  // Each pod pulls every 6 s: admitted at t, seen deploying at t + 6 s and serving at t + 12 s, so the next pod no earlier than t + 17 s.
  t.deepEqual(admissions, [2000, 19_000, 36_000, 53_000, 70_000, 87_000])
})

test('interval and step are read from the remembered pods: a stale pod waits until the interval after the latest serving admitted pod', t => {
  const job = updating('{ step: 2, interval: 5s }')
  const ready: KnownPod = { pull: pullOf(0, serving('p2')), lastPullMs: 9000, admitted: { target: 'p2/', atMs: 1000 }, readySinceMs: 4000 }
  const pods = new Map([['web.0', ready]])
  t.is(answerPull(job, pods, pullOf(1, serving('p1')), 8999).command.type, 'wait')
  const { command, pod } = answerPull(job, pods, pullOf(1, serving('p1')), 9000)
  t.is(command.type, 'run')
  t.deepEqual(pod.admitted, { target: 'p2/', atMs: 9000 })
  t.is(pods.get('web.1'), undefined, 'inputs are not changed')
  // A lost admitted pod holds no slot.
  const lost = new Map([['web.0', { ...ready, readySinceMs: undefined, pull: pullOf(0, { version: 'p2', phase: 'deploying', healthy: false }) }],
    ['web.2', { ...ready, readySinceMs: undefined, lastPullMs: 0, pull: pullOf(2, { version: 'p2', phase: 'deploying', healthy: false }) }]])
  t.is(answerPull(job, lost, pullOf(1, serving('p1')), appMasterTimings.podLostMs).command.type, 'run')
})

test('an update pauses at its breakpoint, continues when told, and can be rolled back', t => {
  const cluster = new Cluster(updating('{ step: 2, breakpoint: 3 }'), ['p1', 'p1', 'p1', 'p1', 'p1', 'p1'])
  cluster.rounds(6)
  t.is(cluster.job.state, 'paused')
  t.like(cluster.job.history.at(-1), { event: 'paused', detail: 'at breakpoint 3' })
  t.is(cluster.versions(), 'p2 p2 p2 p1 p1 p1')
  t.deepEqual(cluster.round(), ['run', 'run', 'run', 'wait', 'wait', 'wait'])

  const rolledBack = cluster.fork(operate(cluster.job, { type: 'rollback' }))
  t.deepEqual(rolledBack.round(), ['run', 'run', 'wait', 'run', 'run', 'run'])
  rolledBack.rounds(6)
  t.is(rolledBack.versions(), 'p1 p1 p1 p1 p1 p1')
  t.is(rolledBack.maxNotServing, 2)
  t.like(rolledBack.job, { state: 'running', current: { podVersion: 'p1' } })

  cluster.job = operate(cluster.job, { type: 'continue', breakpoint: 5 })
  cluster.rounds(6)
  t.is(cluster.versions(), 'p2 p2 p2 p2 p2 p1')
  t.is(cluster.job.state, 'paused')
  cluster.job = operate(cluster.job, { type: 'continue' })
  cluster.rounds(4)
  t.is(cluster.versions(), 'p2 p2 p2 p2 p2 p2')
  t.is(cluster.job.state, 'running')
  t.like(cluster.job.history.at(-1), { event: 'updated' })
})

test('pods admitted but not yet at the new version count toward the breakpoint', t => {
  const cluster = new Cluster(updating('{ step: 4, breakpoint: 3 }'), ['p1', 'p1', 'p1', 'p1', 'p1', 'p1'])
  t.deepEqual(cluster.round(), ['run', 'run', 'run', 'wait', 'wait', 'wait'])
})

test('after a cancel the pods keep their versions and wait; pods that left the target are not told to move', t => {
  const cluster = new Cluster(updating('{ step: 2, breakpoint: 2 }'), ['p1', 'p1', 'p1', 'p1', 'p1', 'p1'])
  cluster.rounds(4)
  t.is(cluster.job.state, 'paused')
  cluster.job = operate(cluster.job, { type: 'cancel' })
  t.deepEqual(cluster.round(), ['run', 'run', 'wait', 'wait', 'wait', 'wait'])
  cluster.rounds(3)
  t.is(cluster.versions(), 'p2 p2 p1 p1 p1 p1')
  t.is(settleJob(cluster.job, cluster.pods, cluster.nowMs), undefined)
})

test('lost pods are those silent for the timeout', t => {
  const known = (lastPullMs: number): KnownPod => ({ pull: pullOf(0, serving('p1')), lastPullMs })
  const pods = new Map([['web.0', known(0)], ['web.1', known(5000)], ['web.2', known(10_000)]])
  t.deepEqual(lostPods(pods, 10_000), ['web.0'])
  t.deepEqual(lostPods(pods, 15_000), ['web.0', 'web.1'])
  t.deepEqual(lostPods(pods, 15_000, 20_000), [])
})

test('a pod record carries the pull, summed restarts, the first problem and its services, up while it serves', t => {
  const job = submit(undefined, 'p1')
  const task: TaskStatus = { name: 'server' as TaskId, phase: 'running', version: 'p1', pid: 7, startedAtMs: 0, restarts: 0, lastExit: undefined, health: 'healthy', reload: 'none', message: '' }
  const pull: PodPull = { ...pullOf(3, serving('p1')), status: { ...status(serving('p1')), tasks: [{ ...task, restarts: 2, message: '' }, { ...task, restarts: 1, message: 'exit 1' }] } }
  const record = podRecordOf(job, { pull, lastPullMs: 5 }, 42)
  t.deepEqual(record, {
    pod: 'web.3', job: 'web', container: 'web.3.c0', node: 'N1', host: '10.0.0.1', version: 'p1', dataVersion: '', phase: 'running', healthy: true,
    restarts: 3, message: 'exit 1', ports: { http: 31003 }, services: [{ name: 'web', port: 31003, up: true }], updatedAtMs: 42
  })
  const down = podRecordOf(job, { pull: { ...pull, ports: {}, status: { ...pull.status, healthy: false, message: 'refused' } }, lastPullMs: 5 }, 43)
  t.like(down, { message: 'refused', services: [{ name: 'web', port: 0, up: false }] })
})
