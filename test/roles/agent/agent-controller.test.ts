// The agent's controller over in-memory fakes of its four ports and a ManualClock: what it records,
// makes, tells the AppWorker, stops and destroys, step by step, and what it finds after a restart.
import test from 'ava'
import { ManualClock } from '../../../src/lib/clock.js'
import type { ContainerId, JobId, PodId, TaskId } from '../../../src/lib/ids.js'
import { silentLogger } from '../../../src/lib/logger.js'
import {
  AgentController, agentTimings,
  type ContainerDb, type ContainerHost, type ContainerRecord, type PlacementSource, type ProcessRef, type PullRelay, type RelayedPull
} from '../../../src/roles/agent/agent-controller.js'
import type { Capacity } from '../../../src/roles/agent/allocation.js'
import type { HostFacts } from '../../../src/roles/agent/agent-report.js'
import type { Placement } from '../../../src/roles/agent/placement.js'
import type { TaskDescription } from '../../../src/roles/appworker/pod-description.js'
import type { PodCommand, PodPhase, PodStatus, TaskStatus } from '../../../src/roles/appworker/pod-status.js'

const mib = 1024 * 1024
const gib = 1024 * mib

function task (name: string, stopTimeoutMs = 5000): TaskDescription {
  return {
    name: name as TaskId,
    startCommand: './serve',
    stopTimeoutMs,
    restart: { mode: 'always', attempts: 3, windowMs: 60_000, initialDelayMs: 100, maxDelayMs: 1000 },
    env: {}
  }
}

function placement (id: string, version = 'v1', overrides: Partial<Placement> = {}): Placement {
  return {
    container: id as ContainerId,
    job: 'web' as JobId,
    pod: `${id}-pod` as PodId,
    cpuBurst: false,
    tasks: [{ name: 'web' as TaskId, cpuMillicores: 100, memoryBytes: 64 * mib }],
    diskBytes: 0,
    namespaces: [],
    volumes: [],
    ports: [],
    description: { version, dataVersion: '', tasks: [task('web')] },
    ...overrides
  }
}

function status (phase: PodPhase, version = 'v1'): PodStatus {
  return { phase, version, dataVersion: '', healthy: true, tasks: [], message: '' }
}

function taskStatus (name: string): TaskStatus {
  return { name: name as TaskId, phase: 'running', version: 'v1', pid: 0, startedAtMs: 0, restarts: 0, lastExit: undefined, health: 'unknown', reload: 'none', message: '' }
}

/**
 * The placements of this node; `failing` makes `list` throw as an unreadable store does, `waiting`
 * makes it wait as a store without a quorum does, until its signal aborts.
 */
class FakeSource implements PlacementSource {
  placements: Placement[] = []
  failing = false
  waiting = false
  /** Reads that began waiting. */
  waits = 0

  async list (signal: AbortSignal): Promise<Placement[]> {
    if (this.failing) throw new Error('store unreachable')
    if (this.waiting) {
      this.waits++
      await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(new Error('cancelled')) }, { once: true }) })
    }
    return [...this.placements]
  }
}

/** A Map of records that outlives a controller, as the node's disk does. */
class FakeDb implements ContainerDb {
  readonly records = new Map<string, ContainerRecord>()

  async load (): Promise<ContainerRecord[]> { return [...this.records.values()] }
  async put (record: ContainerRecord): Promise<void> { this.records.set(record.placement.container, record) }
  async delete (id: ContainerId): Promise<void> { this.records.delete(id) }
}

/**
 * A host whose containers are names and whose AppWorkers are records that can be marked dead.
 * `create` asserts that the db already says `creating`, the write-ahead rule.
 */
class FakeHost implements ContainerHost {
  readonly isolation = { level: 'full' as const, reasons: [] }
  readonly containers = new Set<string>()
  readonly processes = new Map<number, { startTicks: number, alive: boolean, container: string }>()
  readonly created: string[] = []
  readonly destroyed: string[] = []
  readonly createdWhileRecorded: Array<string | undefined> = []
  failCreate: string | undefined
  facts_: HostFacts = { diskFreeBytes: 50 * gib, diskTotalBytes: 100 * gib, missingCgroups: [] }
  private nextPid = 100

  constructor (private readonly db: FakeDb) {}

  async create (placement: Placement): Promise<void> {
    this.createdWhileRecorded.push(this.db.records.get(placement.container)?.state)
    this.created.push(placement.container)
    this.containers.add(placement.container)
    if (this.failCreate !== undefined) throw new Error(this.failCreate)
  }

  /** Called as the AppWorker starts, before the agent has recorded it: where its first pull can come. */
  onStartRoot: ((placement: Placement) => void) | undefined

  async startRoot (placement: Placement): Promise<ProcessRef> {
    this.onStartRoot?.(placement)
    const pid = this.nextPid++
    this.processes.set(pid, { startTicks: pid * 10, alive: true, container: placement.container })
    return { pid, startTicks: pid * 10 }
  }

  async isAlive (root: ProcessRef): Promise<boolean> {
    const process = this.processes.get(root.pid)
    return process !== undefined && process.alive && process.startTicks === root.startTicks
  }

  async destroy (id: ContainerId): Promise<void> {
    this.destroyed.push(id)
    this.containers.delete(id)
    for (const process of this.processes.values()) if (process.container === id) process.alive = false
  }

  async list (): Promise<ContainerId[]> { return [...this.containers] as ContainerId[] }
  collections = 0
  async collectGarbage (): Promise<void> { this.collections++ }
  async usage (): Promise<{ cpuUs: number, memoryBytes: number } | undefined> { return { cpuUs: 0, memoryBytes: 0 } }
  async facts (): Promise<HostFacts> { return this.facts_ }

  kill (pid: number): void {
    const process = this.processes.get(pid)
    if (process !== undefined) process.alive = false
  }
}

/** Keeps each container's `answer` so that a test can pull as the container's AppWorker would. */
class FakeRelay implements PullRelay {
  readonly answers = new Map<string, (pull: RelayedPull) => Promise<PodCommand>>()
  readonly opened: string[] = []
  readonly closed: string[] = []

  async open (id: ContainerId, answer: (pull: RelayedPull) => Promise<PodCommand>): Promise<void> {
    this.opened.push(id)
    this.answers.set(id, answer)
  }

  async close (id: ContainerId): Promise<void> {
    this.closed.push(id)
    this.answers.delete(id)
  }

  isOpen (id: string): boolean { return this.answers.has(id) }

  async pull (id: string, appWorkerPid: number, podStatus: PodStatus): Promise<PodCommand> {
    const answer = this.answers.get(id)
    if (answer === undefined) throw new Error(`no socket open for ${id}`)
    return await answer({ appWorkerPid, status: podStatus })
  }
}

const roomy: Capacity = {
  total: { cpuMillicores: 4000, memoryBytes: 8 * gib, diskBytes: 100 * gib },
  reserved: { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0 }
}

/** A node: its disk (db), host and source outlive a controller; `restart` makes a new controller over them. */
function node (capacity: Capacity = roomy) {
  const clock = new ManualClock()
  const source = new FakeSource()
  const db = new FakeDb()
  const host = new FakeHost(db)
  let relay = new FakeRelay()
  const make = (): AgentController => new AgentController({ source, host, db, relay, capacity, clock, logger: silentLogger })
  const world = {
    clock,
    source,
    db,
    host,
    get relay () { return relay },
    controller: make(),
    /** Runs one step and waits for it. */
    async step (): Promise<void> {
      world.controller.kick()
      await world.controller.settled()
    },
    /** Stops the controller (its containers keep running) and starts a new one over the same db and host. */
    async restart (): Promise<void> {
      await world.controller.stop()
      relay = new FakeRelay()
      world.controller = make()
      await world.controller.start()
      await world.controller.settled()
    },
    record (id: string): ContainerRecord | undefined {
      return db.records.get(id)
    },
    rootOf (id: string): number {
      const root = db.records.get(id)?.root
      if (root === undefined) throw new Error(`${id} has no root`)
      return root.pid
    }
  }
  return world
}

/** A node already running container `a` at v1. */
async function runningNode (capacity: Capacity = roomy) {
  const world = node(capacity)
  world.source.placements = [placement('a')]
  await world.controller.start()
  await world.controller.settled()
  return world
}

test('a new placement is recorded creating before the host makes it, then running with its AppWorker', async t => {
  const world = await runningNode()
  t.deepEqual(world.host.createdWhileRecorded, ['creating'])
  const record = world.record('a')
  t.is(record?.state, 'running')
  t.is(record?.message, '')
  t.deepEqual(record?.root, { pid: 100, startTicks: 1000 })
  t.deepEqual(world.host.destroyed, [])
})

test('an AppWorker that pulls before its start is recorded is told to run already', async t => {
  const world = node()
  const early: Array<Promise<PodCommand>> = []
  world.host.onStartRoot = placement => { early.push(world.relay.pull(placement.container, 100, status('pending'))) }
  world.source.placements = [placement('a')]
  await world.controller.start()
  await world.controller.settled()
  t.deepEqual(await Promise.all(early), [{ type: 'run', pod: placement('a').description }])
})

test('the relay answers the AppWorker\'s pull with run and the placement\'s description', async t => {
  const world = await runningNode()
  t.deepEqual(await world.relay.pull('a', world.rootOf('a'), status('pending', '')), { type: 'run', pod: placement('a').description })
  t.is(world.controller.podStatus('a' as ContainerId)?.phase, 'pending')
})

test('a new description version updates the record in place: no destroy, no create, run with the new one', async t => {
  const world = await runningNode()
  const root = world.record('a')?.root
  world.source.placements = [placement('a', 'v2')]
  await world.step()
  t.is(world.record('a')?.state, 'running')
  t.is(world.record('a')?.placement.description.version, 'v2')
  t.deepEqual(world.record('a')?.root, root)
  t.deepEqual(world.host.created, ['a'])
  t.deepEqual(world.host.destroyed, [])
  t.deepEqual(await world.relay.pull('a', world.rootOf('a'), status('running')), { type: 'run', pod: placement('a', 'v2').description })
})

test('a removed placement is stopping and its AppWorker is told stop', async t => {
  const world = await runningNode()
  world.source.placements = []
  await world.step()
  t.is(world.record('a')?.state, 'stopping')
  t.deepEqual(world.host.destroyed, [])
  t.deepEqual(await world.relay.pull('a', world.rootOf('a'), status('stopping')), { type: 'stop' })
  await world.controller.settled()
  t.is(world.record('a')?.state, 'stopping')
})

test('a stopping container is destroyed and forgotten once its AppWorker reports stopped', async t => {
  const world = await runningNode()
  world.source.placements = []
  await world.step()
  // The pull itself kicks a step: no tick or kick from the test.
  t.deepEqual(await world.relay.pull('a', world.rootOf('a'), status('stopped')), { type: 'stop' })
  await world.controller.settled()
  t.deepEqual(world.host.destroyed, ['a'])
  t.is(world.record('a'), undefined)
  t.false(world.relay.isOpen('a'))
  t.deepEqual(world.controller.report().containers, [])
})

test('a stopped status pulled before the stop does not count as stopped', async t => {
  const world = await runningNode()
  await world.relay.pull('a', world.rootOf('a'), status('finished'))
  world.clock.advance(1)
  world.source.placements = []
  await world.step()
  await world.step()
  t.is(world.record('a')?.state, 'stopping')
  t.deepEqual(world.host.destroyed, [])
})

test('a stopping container whose AppWorker never reports stopped is destroyed after the longest stop timeout and the grace', async t => {
  const world = node()
  const longest = { ...placement('a'), tasks: [{ name: 'web' as TaskId, cpuMillicores: 100, memoryBytes: 64 * mib }, { name: 'db' as TaskId, cpuMillicores: 100, memoryBytes: 64 * mib }], description: { version: 'v1', dataVersion: '', tasks: [task('web', 3000), task('db', 7000)] } }
  world.source.placements = [longest]
  await world.controller.start()
  await world.controller.settled()
  world.source.placements = []
  await world.step()
  const deadlineMs = 7000 + agentTimings.stopGraceMs
  t.is(world.record('a')?.stopDeadlineMs, world.clock.wallMs() + deadlineMs)
  world.clock.advance(deadlineMs - 1)
  await world.controller.settled()
  t.is(world.record('a')?.state, 'stopping')
  t.deepEqual(world.host.destroyed, [])
  world.clock.advance(1)
  await world.controller.settled()
  t.deepEqual(world.host.destroyed, ['a'])
  t.is(world.record('a'), undefined)
})

test('when the placements cannot be read, nothing running is stopped or destroyed', async t => {
  const world = await runningNode()
  world.source.failing = true
  await world.step()
  world.clock.advance(60_000)
  await world.controller.settled()
  t.is(world.record('a')?.state, 'running')
  t.deepEqual(world.host.destroyed, [])
  t.deepEqual(await world.relay.pull('a', world.rootOf('a'), status('running')), { type: 'run', pod: placement('a').description })
})

test('stop ends a step that waits for the placements, and that step changes nothing', async t => {
  const world = await runningNode()
  world.source.waiting = true
  // Were the read answered after all, it would stop container a.
  world.source.placements = []
  world.controller.kick()
  while (world.source.waits === 0) await new Promise(resolve => setImmediate(resolve))
  let timer: NodeJS.Timeout | undefined
  const bound = new Promise<'still waiting'>(resolve => { timer = setTimeout(resolve, 2000, 'still waiting') })
  t.is(await Promise.race([world.controller.stop().then(() => 'stopped' as const), bound]), 'stopped')
  clearTimeout(timer)
  t.is(world.record('a')?.state, 'running')
  t.deepEqual(world.host.destroyed, [])
})

test('a create that fails is recorded failed with its message and cleaned up', async t => {
  const world = node()
  world.host.failCreate = 'cgroup mkdir: permission denied'
  world.source.placements = [placement('a')]
  await world.controller.start()
  await world.controller.settled()
  t.is(world.record('a')?.state, 'failed')
  t.is(world.record('a')?.message, 'cgroup mkdir: permission denied')
  t.deepEqual(world.host.destroyed, ['a'])
  t.false(world.relay.isOpen('a'))
  const [reported] = world.controller.report().containers
  t.is(reported?.state, 'failed')
  t.is(reported?.message, 'cgroup mkdir: permission denied')
})

test('a failed container is not made again while its placement stays, and forgotten once it goes', async t => {
  const world = node()
  world.host.failCreate = 'no room on disk'
  world.source.placements = [placement('a')]
  await world.controller.start()
  await world.controller.settled()
  world.host.failCreate = undefined
  world.clock.advance(5000)
  await world.step()
  t.deepEqual(world.host.created, ['a'])
  t.is(world.record('a')?.state, 'failed')
  world.source.placements = []
  await world.step()
  t.is(world.record('a'), undefined)
  t.deepEqual(world.host.created, ['a'])
})

test('a failed container\'s room is not counted as held', async t => {
  const world = node()
  world.host.failCreate = 'boom'
  world.source.placements = [placement('a')]
  await world.controller.start()
  await world.controller.settled()
  t.deepEqual(world.controller.report().allocated, { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0 })
})

test('after a restart, a container whose AppWorker lives is re-adopted: relay reopened, no create, no destroy', async t => {
  const world = await runningNode()
  const root = world.rootOf('a')
  await world.restart()
  t.is(world.record('a')?.state, 'running')
  t.is(world.rootOf('a'), root)
  t.deepEqual(world.host.created, ['a'])
  t.deepEqual(world.host.destroyed, [])
  t.deepEqual(world.relay.opened, ['a'])
  t.deepEqual(await world.relay.pull('a', root, status('running')), { type: 'run', pod: placement('a').description })
})

test('after a restart, a container whose AppWorker died meanwhile is destroyed and failed with the reason', async t => {
  const world = await runningNode()
  world.host.kill(world.rootOf('a'))
  await world.restart()
  t.deepEqual(world.host.destroyed, ['a'])
  t.is(world.record('a')?.state, 'failed')
  t.is(world.record('a')?.message, 'its AppWorker died')
  t.is(world.record('a')?.root, undefined)
  t.false(world.relay.isOpen('a'))
  t.deepEqual(world.host.created, ['a'])
})

test('after a restart, a container the host has but no record names is destroyed at start', async t => {
  const world = await runningNode()
  world.host.containers.add('stray')
  await world.controller.stop()
  const fresh = new AgentController({ source: world.source, host: world.host, db: world.db, relay: new FakeRelay(), capacity: roomy, clock: world.clock, logger: silentLogger })
  await fresh.start()
  // Destroyed by start itself, before any step.
  t.deepEqual(world.host.destroyed, ['stray'])
  await fresh.settled()
  t.deepEqual(world.host.destroyed, ['stray'])
  t.is(world.record('a')?.state, 'running')
})

test('after a restart, a container left creating is destroyed whole and made again', async t => {
  const world = node()
  world.source.placements = [placement('a')]
  await world.db.put({ placement: placement('a'), state: 'creating', message: '' })
  world.host.containers.add('a')
  await world.controller.start()
  await world.controller.settled()
  t.deepEqual(world.host.destroyed, ['a'])
  t.is(world.record('a'), undefined)
  await world.step()
  t.deepEqual(world.host.created, ['a'])
  t.is(world.record('a')?.state, 'running')
})

test('an AppWorker that dies while the node runs makes its container failed, destroyed', async t => {
  const world = await runningNode()
  world.host.kill(world.rootOf('a'))
  await world.step()
  t.deepEqual(world.host.destroyed, ['a'])
  t.is(world.record('a')?.state, 'failed')
  t.is(world.record('a')?.message, 'its AppWorker died')
})

test('an AppWorker that lives but stops pulling for silentMs makes its container failed, destroyed; a node that stood still kills nothing', async t => {
  const world = await runningNode()
  const root = world.rootOf('a')
  /** The node steps every second for `count` seconds; the AppWorker pulls each second when `pulling`. */
  const seconds = async (count: number, pulling: boolean): Promise<void> => {
    for (let second = 0; second < count; second++) {
      world.clock.advance(1000)
      if (pulling) await world.relay.pull('a', root, status('running'))
      await world.step()
    }
  }
  const silentS = agentTimings.silentMs / 1000
  await seconds(agentTimings.firstPullFactor * silentS - 1, false)
  t.is(world.record('a')?.state, 'running', 'a starting AppWorker gets longer for its first pull')
  await seconds(2 * silentS, true)
  t.is(world.record('a')?.state, 'running', 'it pulls')
  await seconds(silentS - 1, false)
  t.is(world.record('a')?.state, 'running', 'silent for less than silentMs')
  await seconds(1, true)
  await seconds(silentS / 2, false)
  // The node itself stands still far past silentMs: the silence is not the AppWorker's.
  world.clock.advance(3 * agentTimings.silentMs)
  await world.step()
  await seconds(2, false)
  t.is(world.record('a')?.state, 'running', 'a node that stood still kills nothing')
  t.deepEqual(world.host.destroyed, [])
  await seconds(silentS / 2, false)
  t.deepEqual(world.host.destroyed, ['a'])
  t.is(world.record('a')?.state, 'failed')
  t.is(world.record('a')?.message, `its AppWorker did not pull for ${silentS} s`)
})

test('when most AppWorkers are silent at once (an overloaded host), none is failed; one silent among pulling ones is', async t => {
  const world = node()
  world.source.placements = [placement('a'), placement('b'), placement('c')]
  await world.controller.start()
  await world.controller.settled()
  const pullAll = async (ids: readonly string[]): Promise<void> => { for (const id of ids) await world.relay.pull(id, world.rootOf(id), status('running')) }
  await pullAll(['a', 'b', 'c'])
  for (let second = 0; second < agentTimings.silentMs / 1000 + 2; second++) {
    world.clock.advance(1000)
    await pullAll(['a'])
    await world.step()
  }
  t.deepEqual(world.host.destroyed, [], 'b and c are two of three: the host, not them')
  for (let second = 0; second < 2; second++) {
    world.clock.advance(1000)
    await pullAll(['a', 'b'])
    await world.step()
  }
  t.deepEqual(world.host.destroyed, ['c'])
  t.is(world.record('c')?.state, 'failed')
})

test('a placement that does not fit is reported refused with the reason and never made', async t => {
  const small: Capacity = { total: { cpuMillicores: 1000, memoryBytes: 8 * gib, diskBytes: 100 * gib }, reserved: { cpuMillicores: 200, memoryBytes: 0, diskBytes: 0 } }
  const world = node(small)
  const big = placement('big', 'v1', { tasks: [{ name: 'web' as TaskId, cpuMillicores: 900, memoryBytes: 64 * mib }] })
  world.source.placements = [big]
  await world.controller.start()
  await world.controller.settled()
  await world.step()
  t.deepEqual(world.host.created, [])
  t.is(world.record('big'), undefined)
  t.deepEqual(world.controller.report().containers, [{
    id: 'big' as ContainerId, job: 'web' as JobId, pod: 'big-pod' as PodId, state: 'refused', version: 'v1', phase: 'unknown', message: 'cpu: needs 900m, 800m free', cpuMillicores: 0, memoryBytes: 0
  }])
})

test('a refused placement is no longer reported once it is removed', async t => {
  const small: Capacity = { total: { cpuMillicores: 100, memoryBytes: 8 * gib, diskBytes: 100 * gib }, reserved: { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0 } }
  const world = node(small)
  world.source.placements = [placement('big', 'v1', { tasks: [{ name: 'web' as TaskId, cpuMillicores: 900, memoryBytes: 64 * mib }] })]
  await world.controller.start()
  await world.controller.settled()
  world.source.placements = []
  await world.step()
  t.deepEqual(world.controller.report().containers, [])
})

test('a pull from a process that is not the container\'s AppWorker gets wait and its status is ignored', async t => {
  const world = await runningNode()
  t.deepEqual(await world.relay.pull('a', world.rootOf('a') + 1, status('failed')), { type: 'wait' })
  t.is(world.controller.podStatus('a' as ContainerId), undefined)
})

test('the report sums what running containers hold and carries the host\'s health, measured every measureMs', async t => {
  const world = await runningNode()
  world.host.facts_ = { diskFreeBytes: 0, diskTotalBytes: 100 * gib, missingCgroups: [] }
  t.is(world.controller.report().health, 'healthy', 'the host is measured on its own timer, not every step')
  world.clock.advance(agentTimings.measureMs)
  await world.controller.settled()
  const report = world.controller.report()
  t.deepEqual(report.allocated, { cpuMillicores: 100, memoryBytes: 64 * mib, diskBytes: 0 })
  t.is(report.health, 'unhealthy')
  t.deepEqual(report.problems, ['disk full: 0 MiB free of 102400 MiB'])
  t.is(report.containers[0]?.state, 'running')
})


test('a failed container is not made again after the placements were unreadable for a step', async t => {
  const world = node()
  world.host.failCreate = 'no room on disk'
  world.source.placements = [placement('a')]
  await world.controller.start()
  await world.controller.settled()
  world.host.failCreate = undefined
  world.source.failing = true
  await world.step()
  world.source.failing = false
  await world.step()
  t.deepEqual(world.host.created, ['a'])
  t.is(world.record('a')?.state, 'failed')
})

test('a stopping pod with one failed task is not destroyed while its other task is still stopping', async t => {
  const world = await runningNode()
  const tasks = (other: 'running' | 'stopping') => [
    { ...taskStatus('web'), phase: 'failed' as const },
    { ...taskStatus('db'), phase: other }
  ]
  // The pod's phase is `failed` as soon as any task failed, whatever the others do.
  await world.relay.pull('a', world.rootOf('a'), { ...status('failed'), tasks: tasks('running') })
  world.source.placements = []
  await world.step()
  await world.relay.pull('a', world.rootOf('a'), { ...status('failed'), tasks: tasks('stopping') })
  await world.step()
  t.is(world.record('a')?.state, 'stopping')
  t.deepEqual(world.host.destroyed, [])
})

test('a refused placement is still reported while the placements are unreadable', async t => {
  const small: Capacity = { total: { cpuMillicores: 100, memoryBytes: 8 * gib, diskBytes: 100 * gib }, reserved: { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0 } }
  const world = node(small)
  world.source.placements = [placement('big', 'v1', { tasks: [{ name: 'web' as TaskId, cpuMillicores: 900, memoryBytes: 64 * mib }] })]
  await world.controller.start()
  await world.controller.settled()
  world.source.failing = true
  await world.step()
  t.deepEqual(world.controller.report().containers.map(container => container.state), ['refused'])
})

test('kept directories are collected in a step, at most once every collectGarbageMs', async t => {
  const world = await runningNode()
  t.is(world.host.collections, 1, 'at the first step')
  world.clock.advance(agentTimings.collectGarbageMs / 2)
  await world.step()
  t.is(world.host.collections, 1)
  world.clock.advance(agentTimings.collectGarbageMs / 2)
  await world.step()
  t.is(world.host.collections, 2)
})
