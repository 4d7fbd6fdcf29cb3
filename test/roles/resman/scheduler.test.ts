import test from 'ava'
import type { ContainerId, JobId, NodeId } from '../../../src/lib/ids.js'
import { randomInt, SeededRng, shuffled, type Rng } from '../../../src/lib/rng.js'
import { firstFailure, freePorts, type NodeView } from '../../../src/roles/resman/scheduler/feasible.js'
import { score } from '../../../src/roles/resman/scheduler/rank.js'
import { schedule, schedulerLimits } from '../../../src/roles/resman/scheduler/schedule.js'
import { filterNames, type FilterName, type PendingPod, type Plan, type SchedulerNode, type SchedulerResources, type SchedulerSnapshot } from '../../../src/roles/resman/scheduler/snapshot.js'

const gib = 1024 ** 3
const range = schedulerLimits.portRange
const dynamicMin = range.min

type NodeOverrides = Omit<Partial<SchedulerNode>, 'allocatable' | 'allocated'> & { allocatable?: Partial<SchedulerResources>, allocated?: Partial<SchedulerResources> }
type PodOverrides = Omit<Partial<PendingPod>, 'request'> & { request?: Partial<SchedulerResources> }

/** An alive, healthy, empty node of pool `main` with 4 cpus, 8 GiB and 100 GiB; `overrides` changes it. */
function node (id: string, overrides: NodeOverrides = {}): SchedulerNode {
  return {
    id: id as NodeId,
    pool: 'main',
    labels: {},
    liveness: 'alive',
    health: 'healthy',
    ports: [],
    podsPerJob: {},
    ...overrides,
    allocatable: { cpuMillicores: 4000, memoryBytes: 8 * gib, diskBytes: 100 * gib, ...overrides.allocatable },
    allocated: { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0, ...overrides.allocated }
  }
}

/** A `web` service pod asking 1 cpu, 1 GiB and 10 GiB, any pool, no label, no port, bin-packed. */
function pod (id: string, overrides: PodOverrides = {}): PendingPod {
  return {
    id: id as ContainerId,
    job: 'web' as JobId,
    priority: 100,
    pools: [],
    labels: {},
    maxPerHost: 0,
    fixedPorts: [],
    dynamicPorts: 0,
    strategy: 'binpack',
    ...overrides,
    request: { cpuMillicores: 1000, memoryBytes: gib, diskBytes: 10 * gib, ...overrides.request }
  }
}

/** The node as `schedule` sees it before it places anything. */
function view (of: SchedulerNode): NodeView {
  return { ...of, ports: new Set(of.ports), podsPerJob: new Map(Object.entries(of.podsPerJob)) }
}

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}

// --- firstFailure: one filter at a time ----------------------------------------------------------

const tinyRange = { min: 20_000, max: 20_002 }

const filterTable: ReadonlyArray<{ readonly title: string, readonly node: NodeOverrides, readonly pod: PodOverrides, readonly expected: FilterName | undefined }> = [
  { title: 'an alive, healthy node with room takes the pod', node: {}, pod: {}, expected: undefined },
  { title: 'a suspect node', node: { liveness: 'suspect' }, pod: {}, expected: 'liveness' },
  { title: 'a dead node', node: { liveness: 'dead' }, pod: {}, expected: 'liveness' },
  { title: 'an unhealthy node', node: { health: 'unhealthy' }, pod: {}, expected: 'health' },
  { title: 'a node of another pool', node: { pool: 'edge' }, pod: { pools: ['gpu'] }, expected: 'pool' },
  { title: 'a node of one of the pools', node: { pool: 'edge' }, pod: { pools: ['gpu', 'edge'] }, expected: undefined },
  { title: 'no pools: any pool', node: { pool: 'edge' }, pod: { pools: [] }, expected: undefined },
  { title: 'a required label missing', node: { labels: { disk: 'ssd' } }, pod: { labels: { zone: 'a' } }, expected: 'labels' },
  { title: 'a required label with another value', node: { labels: { zone: 'b' } }, pod: { labels: { zone: 'a' } }, expected: 'labels' },
  { title: 'one of two required labels wrong', node: { labels: { zone: 'a', disk: 'hdd' } }, pod: { labels: { zone: 'a', disk: 'ssd' } }, expected: 'labels' },
  { title: 'every required label, and more', node: { labels: { zone: 'a', disk: 'ssd', rack: '7' } }, pod: { labels: { zone: 'a', disk: 'ssd' } }, expected: undefined },
  { title: 'a label named like an Object property the node lacks', node: {}, pod: { labels: { constructor: 'x' } }, expected: 'labels' },
  { title: 'maxPerHost reached', node: { podsPerJob: { web: 2 } }, pod: { maxPerHost: 2 }, expected: 'maxPerHost' },
  { title: 'maxPerHost exceeded already', node: { podsPerJob: { web: 3 } }, pod: { maxPerHost: 2 }, expected: 'maxPerHost' },
  { title: 'maxPerHost not yet reached', node: { podsPerJob: { web: 1 } }, pod: { maxPerHost: 2 }, expected: undefined },
  { title: 'maxPerHost 0: no limit', node: { podsPerJob: { web: 50 } }, pod: { maxPerHost: 0 }, expected: undefined },
  { title: 'maxPerHost counts only pods of the same job', node: { podsPerJob: { db: 5 } }, pod: { maxPerHost: 1 }, expected: undefined },
  { title: 'cpu one millicore over', node: { allocated: { cpuMillicores: 3000 } }, pod: { request: { cpuMillicores: 1001 } }, expected: 'cpu' },
  { title: 'cpu exactly fitting', node: { allocated: { cpuMillicores: 3000 } }, pod: { request: { cpuMillicores: 1000 } }, expected: undefined },
  { title: 'memory one byte over', node: { allocated: { memoryBytes: 7 * gib } }, pod: { request: { memoryBytes: gib + 1 } }, expected: 'memory' },
  { title: 'memory exactly fitting', node: { allocated: { memoryBytes: 7 * gib } }, pod: { request: { memoryBytes: gib } }, expected: undefined },
  { title: 'disk one byte over', node: { allocated: { diskBytes: 90 * gib } }, pod: { request: { diskBytes: 10 * gib + 1 } }, expected: 'disk' },
  { title: 'disk exactly fitting', node: { allocated: { diskBytes: 90 * gib } }, pod: { request: { diskBytes: 10 * gib } }, expected: undefined },
  { title: 'a node already over its allocatable takes not even an empty pod', node: { allocated: { cpuMillicores: 4001 } }, pod: { request: { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0 } }, expected: 'cpu' },
  { title: 'a fixed port held', node: { ports: [80, 8080] }, pod: { fixedPorts: [443, 8080] }, expected: 'ports' },
  { title: 'fixed ports free', node: { ports: [80, 8080] }, pod: { fixedPorts: [443, 8081] }, expected: undefined },
  { title: 'too few dynamic ports left in the range', node: { ports: [20_001] }, pod: { dynamicPorts: 3 }, expected: 'ports' },
  { title: 'just enough dynamic ports left in the range', node: { ports: [20_001] }, pod: { dynamicPorts: 2 }, expected: undefined },
  { title: 'the pod\'s own fixed port is not one of its dynamic ports', node: {}, pod: { fixedPorts: [20_000], dynamicPorts: 3 }, expected: 'ports' },
  { title: 'a full range is no matter without dynamic ports', node: { ports: [20_000, 20_001, 20_002] }, pod: { dynamicPorts: 0 }, expected: undefined }
]

for (const row of filterTable) {
  test(`firstFailure: ${row.title} → ${row.expected ?? 'fits'}`, t => {
    t.is(firstFailure(view(node('n1', row.node)), pod('p1', row.pod), tinyRange), row.expected)
  })
}

test('firstFailure names the first filter that fails, in Galaxy\'s order, when every one fails', t => {
  // A node that fails all nine filters; each step repairs the filter just named, so the next one
  // in order must be named, until the node fits.
  const broken: NodeOverrides = {
    liveness: 'dead',
    health: 'unhealthy',
    pool: 'edge',
    labels: { zone: 'b' },
    podsPerJob: { web: 1 },
    allocated: { cpuMillicores: 4000, memoryBytes: 8 * gib, diskBytes: 100 * gib },
    ports: [8080, 20_000, 20_001, 20_002]
  }
  const repairs: Record<FilterName, NodeOverrides> = {
    liveness: { liveness: 'alive' },
    health: { health: 'healthy' },
    pool: { pool: 'main' },
    labels: { labels: { zone: 'a' } },
    maxPerHost: { podsPerJob: {} },
    cpu: { allocated: { cpuMillicores: 0, memoryBytes: 8 * gib, diskBytes: 100 * gib } },
    memory: { allocated: { cpuMillicores: 0, memoryBytes: 0, diskBytes: 100 * gib } },
    disk: { allocated: { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0 } },
    ports: { ports: [] }
  }
  const wanting = pod('p1', { pools: ['main'], labels: { zone: 'a' }, maxPerHost: 1, fixedPorts: [8080], dynamicPorts: 1 })
  let overrides = broken
  const named: Array<FilterName | undefined> = []
  for (const filter of filterNames) {
    named.push(firstFailure(view(node('n1', overrides)), wanting, tinyRange))
    overrides = { ...overrides, ...repairs[filter] }
  }
  named.push(firstFailure(view(node('n1', overrides)), wanting, tinyRange))
  t.deepEqual(named, [...filterNames, undefined])
})

test('firstFailure: fixed ports free but the dynamic range full is still ports', t => {
  t.is(firstFailure(view(node('n1', { ports: [20_000, 20_001, 20_002] })), pod('p1', { fixedPorts: [80], dynamicPorts: 1 }), tinyRange), 'ports')
})

test('freePorts gives the lowest free ports of the range, past held ports and the pod\'s own fixed ones', t => {
  const wide = { min: 20_000, max: 20_010 }
  t.deepEqual(freePorts(view(node('n1', { ports: [20_000, 20_002] })), pod('p1', { fixedPorts: [20_003], dynamicPorts: 3 }), wide), [20_001, 20_004, 20_005])
  t.deepEqual(freePorts(view(node('n1')), pod('p1', { dynamicPorts: 0 }), wide), [])
  // Not enough: as many as there are, which firstFailure reads as a ports failure.
  t.deepEqual(freePorts(view(node('n1', { ports: [20_001] })), pod('p1', { dynamicPorts: 5 }), tinyRange), [20_000, 20_002])
})

// --- rank ----------------------------------------------------------------------------------------

test('binpack prefers the fuller node', t => {
  const wanting = pod('p1', { strategy: 'binpack' })
  const full = view(node('full', { allocated: { cpuMillicores: 3000, memoryBytes: 6 * gib } }))
  const empty = view(node('empty', { allocated: { cpuMillicores: 1000, memoryBytes: 2 * gib } }))
  t.true(score(full, wanting) > score(empty, wanting))
  t.is(score(full, wanting), 1)
  t.is(score(empty, wanting), 0.5)
})

test('binpack counts the scarcer of cpu and memory, and ignores pods of the same job', t => {
  const wanting = pod('p1', { strategy: 'binpack', request: { cpuMillicores: 0, memoryBytes: 0 } })
  const memoryTight = view(node('m', { allocated: { cpuMillicores: 400, memoryBytes: 7.2 * gib } })) // 10% cpu, 90% memory
  const cpuTight = view(node('c', { allocated: { cpuMillicores: 3200, memoryBytes: 0.8 * gib } })) // 80% cpu, 10% memory
  t.true(score(memoryTight, wanting) > score(cpuTight, wanting))
  t.is(score(view(node('a', { podsPerJob: { web: 3 } })), wanting), score(view(node('b')), wanting))
})

test('spread prefers the emptier node', t => {
  const wanting = pod('p1', { strategy: 'spread' })
  const full = view(node('full', { allocated: { cpuMillicores: 3000 } }))
  const empty = view(node('empty', { allocated: { cpuMillicores: 1000 } }))
  t.true(score(empty, wanting) > score(full, wanting))
})

test('spread penalises pods of the same job, not of other jobs', t => {
  const wanting = pod('p1', { strategy: 'spread' })
  const plain = score(view(node('a')), wanting)
  t.true(score(view(node('b', { podsPerJob: { web: 1 } })), wanting) < plain)
  t.true(score(view(node('c', { podsPerJob: { web: 2 } })), wanting) < score(view(node('b', { podsPerJob: { web: 1 } })), wanting))
  t.is(score(view(node('d', { podsPerJob: { db: 4 } })), wanting), plain)
  // One pod of the job weighs more than any difference in fullness.
  const nearlyFull = view(node('e', { allocated: { cpuMillicores: 2900 } }))
  const emptyWithSibling = view(node('f', { podsPerJob: { web: 1 } }))
  t.true(score(nearlyFull, wanting) > score(emptyWithSibling, wanting))
})

test('score stays finite on a node with nothing allocatable', t => {
  const zero = view(node('z', { allocatable: { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0 } }))
  const wanting = pod('p1', { request: { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0 } })
  t.true(Number.isFinite(score(zero, wanting)))
  t.true(Number.isFinite(score(zero, { ...wanting, strategy: 'spread' })))
})

// --- schedule ------------------------------------------------------------------------------------

test('a lower priority number is placed first when room is short; the other is unplaced', t => {
  const snapshot = { nodes: [node('n1', { allocatable: { cpuMillicores: 1000 } })] }
  const batch = pod('batch-1', { job: 'batch' as JobId, priority: 200 })
  const monitor = pod('monitor-1', { job: 'monitor' as JobId, priority: 0 })
  const plan = schedule(snapshot, [batch, monitor], { seed: 1 })
  t.deepEqual(plan, { placed: [{ pod: 'monitor-1' as ContainerId, node: 'n1' as NodeId, ports: [] }], unplaced: [{ pod: 'batch-1' as ContainerId, excluded: { cpu: 1 } }] })
})

test('at equal priority the job name, then the pod id, decides who goes first', t => {
  const snapshot = { nodes: [node('n1', { allocatable: { cpuMillicores: 2000 } })] }
  const plan = schedule(snapshot, [pod('z-1', { job: 'zeta' as JobId }), pod('a-2', { job: 'alpha' as JobId }), pod('a-1', { job: 'alpha' as JobId })], { seed: 3 })
  t.deepEqual(plan.placed.map(p => p.pod), ['a-1', 'a-2'])
  t.deepEqual(plan.unplaced, [{ pod: 'z-1' as ContainerId, excluded: { cpu: 1 } }])
})

test('an unplaced pod counts, per filter, the nodes that excluded it', t => {
  const snapshot = {
    nodes: [
      node('dead', { liveness: 'dead' }),
      node('edge', { pool: 'edge' }),
      node('small', { allocatable: { cpuMillicores: 500 } })
    ]
  }
  for (const seed of [0, 1, 2, 3]) {
    t.deepEqual(schedule(snapshot, [pod('p1', { pools: ['main'] })], { seed }).unplaced, [{ pod: 'p1' as ContainerId, excluded: { liveness: 1, pool: 1, cpu: 1 } }])
  }
})

test('an unplaced pod names every filter once when each node fails a different one', t => {
  const wanting = pod('p1', { pools: ['main'], labels: { zone: 'a' }, maxPerHost: 1, fixedPorts: [8080] })
  const good: NodeOverrides = { labels: { zone: 'a' } }
  const snapshot = {
    nodes: [
      node('n1', { ...good, liveness: 'suspect' }),
      node('n2', { ...good, health: 'unhealthy' }),
      node('n3', { ...good, pool: 'edge' }),
      node('n4', { labels: { zone: 'b' } }),
      node('n5', { ...good, podsPerJob: { web: 1 } }),
      node('n6', { ...good, allocated: { cpuMillicores: 3500 } }),
      node('n7', { ...good, allocated: { memoryBytes: 7.5 * gib } }),
      node('n8', { ...good, allocated: { diskBytes: 95 * gib } }),
      node('n9', { ...good, ports: [8080] }),
      node('n10', { ...good, liveness: 'dead', ports: [8080] })
    ]
  }
  const plan = schedule(snapshot, [wanting], { seed: 5 })
  t.deepEqual(plan.placed, [])
  t.deepEqual(plan.unplaced, [{ pod: 'p1' as ContainerId, excluded: { liveness: 2, health: 1, pool: 1, labels: 1, maxPerHost: 1, cpu: 1, memory: 1, disk: 1, ports: 1 } }])
})

test('dynamic ports are distinct on a node across pods and avoid fixed and held ones', t => {
  const held = [dynamicMin, dynamicMin + 2]
  const snapshot = { nodes: [node('n1', { ports: held })] }
  const pods = [
    pod('a', { priority: 0, fixedPorts: [dynamicMin + 3], dynamicPorts: 2, request: { cpuMillicores: 100 } }),
    pod('b', { priority: 1, dynamicPorts: 2, request: { cpuMillicores: 100 } }),
    pod('c', { priority: 2, fixedPorts: [dynamicMin + 7], dynamicPorts: 1, request: { cpuMillicores: 100 } })
  ]
  for (const seed of [0, 1, 2, 9]) {
    const plan = schedule(snapshot, pods, { seed })
    t.deepEqual(plan.placed.map(each => [each.pod, each.ports.length]), [['a', 2], ['b', 2], ['c', 1]])
    const dynamic = plan.placed.flatMap(each => each.ports)
    t.is(new Set(dynamic).size, dynamic.length, 'distinct')
    for (const port of dynamic) {
      t.true(port >= range.min && port <= range.max, `${port} in the range`)
      t.false([...held, dynamicMin + 3, dynamicMin + 7].includes(port), `${port} is neither held nor fixed`)
    }
  }
  t.notDeepEqual(schedule(snapshot, pods, { seed: 1 }).placed, schedule(snapshot, pods, { seed: 2 }).placed, 'they start from a random point of the range')
})

test('a pod whose fixed port another pod of the plan was given does not fit', t => {
  const snapshot = { nodes: [node('n1')] }
  const first = schedule(snapshot, [pod('a', { dynamicPorts: 1 })], { seed: 3 })
  const taken = first.placed[0]?.ports[0] ?? 0
  const plan = schedule(snapshot, [pod('a', { priority: 0, dynamicPorts: 1 }), pod('b', { priority: 1, fixedPorts: [taken] })], { seed: 3 })
  t.deepEqual(plan.unplaced, [{ pod: 'b' as ContainerId, excluded: { ports: 1 } }])
})

test('free ports start where asked and wrap around to the bottom of the range', t => {
  const tiny = { min: 20_000, max: 20_004 }
  t.deepEqual(freePorts(view(node('n1', { ports: [20_004] })), pod('p1', { dynamicPorts: 3 }), tiny, 20_003), [20_003, 20_000, 20_001])
})

test('maxPerHost spreads a bin-packed job over nodes; one pod too many is unplaced', t => {
  const snapshot = { nodes: [node('n1'), node('n2'), node('n3')] }
  const pods = ['w1', 'w2', 'w3', 'w4'].map(id => pod(id, { maxPerHost: 1, request: { cpuMillicores: 100 } }))
  for (const seed of [0, 1, 2]) {
    const plan = schedule(snapshot, pods, { seed })
    t.deepEqual(plan.placed.map(p => p.node).sort(), ['n1', 'n2', 'n3'])
    t.deepEqual(plan.unplaced, [{ pod: 'w4' as ContainerId, excluded: { maxPerHost: 3 } }])
  }
})

test('without maxPerHost the same bin-packed job goes to one node; spread puts it on three', t => {
  const snapshot = { nodes: [node('n1'), node('n2'), node('n3')] }
  const packed = ['w1', 'w2', 'w3'].map(id => pod(id, { request: { cpuMillicores: 100 } }))
  const spread = packed.map(p => ({ ...p, strategy: 'spread' as const }))
  for (const seed of [0, 1, 2]) {
    t.is(new Set(schedule(snapshot, packed, { seed }).placed.map(p => p.node)).size, 1)
    t.is(new Set(schedule(snapshot, spread, { seed }).placed.map(p => p.node)).size, 3)
  }
})

test('with no more nodes than candidates the best node wins whatever the seed', t => {
  const snapshot = {
    nodes: [
      node('quarter', { allocated: { cpuMillicores: 1000 } }),
      node('half', { allocated: { cpuMillicores: 2000 } }),
      node('empty'),
      node('tight', { allocated: { cpuMillicores: 3500 } }) // too full for the pod
    ]
  }
  for (let seed = 0; seed < 20; seed++) {
    t.is(schedule(snapshot, [pod('p', { strategy: 'binpack' })], { seed }).placed[0]?.node, 'half' as NodeId)
    t.is(schedule(snapshot, [pod('p', { strategy: 'spread' })], { seed }).placed[0]?.node, 'empty' as NodeId)
  }
})

test('spread avoids a node that already runs a pod of the job in the snapshot', t => {
  const snapshot = { nodes: [node('n1', { podsPerJob: { web: 1 } }), node('n2', { allocated: { cpuMillicores: 2000 } })] }
  for (const seed of [0, 1, 2, 3]) t.is(schedule(snapshot, [pod('p', { strategy: 'spread' })], { seed }).placed[0]?.node, 'n2' as NodeId)
})

test('schedule changes neither the snapshot nor the pods', t => {
  const snapshot: SchedulerSnapshot = {
    nodes: [
      node('n1', { ports: [dynamicMin], podsPerJob: { web: 1 }, labels: { zone: 'a' } }),
      node('n2', { allocated: { cpuMillicores: 1000 }, ports: [80] }),
      node('n3', { liveness: 'dead' })
    ]
  }
  const pods = [
    pod('p1', { dynamicPorts: 2, fixedPorts: [443], labels: { zone: 'a' } }),
    pod('p2', { strategy: 'spread', maxPerHost: 2, dynamicPorts: 1 }),
    pod('p3', { request: { cpuMillicores: 9000 } })
  ]
  const before = structuredClone({ snapshot, pods })
  // Frozen: any write throws (modules run in strict mode).
  deepFreeze(snapshot)
  deepFreeze(pods)
  const plan = schedule(snapshot, pods, { seed: 4 })
  t.is(plan.placed.length, 2)
  t.deepEqual({ snapshot, pods }, before)
  // And without the freeze, nothing written either.
  const loose = structuredClone(before)
  schedule(loose.snapshot, loose.pods, { seed: 4 })
  t.deepEqual(loose, before)
})

test('an empty snapshot leaves every pod unplaced with nothing excluded', t => {
  const plan = schedule({ nodes: [] }, [pod('b', { priority: 200 }), pod('a', { priority: 0 })], { seed: 1 })
  t.deepEqual(plan, { placed: [], unplaced: [{ pod: 'a' as ContainerId, excluded: {} }, { pod: 'b' as ContainerId, excluded: {} }] })
})

test('no pending pod, an empty plan', t => {
  t.deepEqual(schedule({ nodes: [node('n1')] }, [], { seed: 1 }), { placed: [], unplaced: [] })
})

test('fewer than one candidate is a bug', t => {
  t.throws(() => schedule({ nodes: [node('n1')] }, [pod('p')], { seed: 1, candidates: 0 }), { message: /at least one candidate/ })
  t.throws(() => schedule({ nodes: [node('n1')] }, [pod('p')], { seed: 1, candidates: 1.5 }), { message: /at least one candidate/ })
})

test('a request that is not a whole non-negative amount, or bad fixed ports, is a bug upstream', t => {
  const nodes = { nodes: [node('n1')] }
  t.throws(() => schedule(nodes, [pod('p', { request: { cpuMillicores: Number.NaN } })], { seed: 1 }), { message: /whole, non-negative amounts/ })
  t.throws(() => schedule(nodes, [pod('p', { request: { cpuMillicores: -1000 } })], { seed: 1 }), { message: /whole, non-negative amounts/ })
  t.throws(() => schedule(nodes, [pod('p', { dynamicPorts: 1.5 })], { seed: 1 }), { message: /whole, non-negative amounts/ })
  t.throws(() => schedule(nodes, [pod('p', { fixedPorts: [80, 80] })], { seed: 1 }), { message: /fixed ports are distinct/ })
  t.throws(() => schedule(nodes, [pod('p', { fixedPorts: [70_000] })], { seed: 1 }), { message: /fixed ports are distinct/ })
})

test('with one candidate, a pod takes the first feasible node of the seeded walk, and the walk goes on from there', t => {
  // Four equal nodes, four spread pods of different jobs, one candidate: each pod takes the next
  // node of the walk, so all four nodes are used, in an order only the seed decides.
  const snapshot = { nodes: ['n1', 'n2', 'n3', 'n4'].map(id => node(id)) }
  const pods = ['a', 'b', 'c', 'd'].map(id => pod(id, { job: id as JobId, request: { cpuMillicores: 100 } }))
  const orders = new Set<string>()
  for (let seed = 0; seed < 30; seed++) {
    const nodes = schedule(snapshot, pods, { seed, candidates: 1 }).placed.map(p => p.node)
    t.is(new Set(nodes).size, 4)
    orders.add(nodes.join())
  }
  t.true(orders.size > 1, 'the seed changes the walk')
})

// --- properties over seeded random clusters ------------------------------------------------------

const pools = ['main', 'edge', 'gpu']
const jobs = ['web', 'db', 'cache', 'batch', 'monitor']
const knownPorts = [80, 443, 8080, 9000, dynamicMin, dynamicMin + 1, dynamicMin + 5]

function pick<T> (rng: Rng, items: readonly T[]): T {
  return items[randomInt(rng, 0, items.length)] as T
}

function chance (rng: Rng, percent: number): boolean {
  return randomInt(rng, 0, 100) < percent
}

function randomCluster (seed: number): { snapshot: SchedulerSnapshot, pending: PendingPod[] } {
  const rng = new SeededRng(seed)
  const nodes: SchedulerNode[] = []
  const nodeCount = randomInt(rng, 1, 31)
  for (let i = 0; i < nodeCount; i++) {
    const allocatable = { cpuMillicores: randomInt(rng, 1, 17) * 1000, memoryBytes: randomInt(rng, 1, 33) * gib, diskBytes: randomInt(rng, 10, 201) * gib }
    // Mostly within allocatable; now and then over it, as after a node shrank.
    const share = (of: number): number => Math.floor(of * randomInt(rng, 0, chance(rng, 10) ? 130 : 101) / 100)
    const labels: Record<string, string> = {}
    if (chance(rng, 70)) labels.zone = pick(rng, ['a', 'b'])
    if (chance(rng, 40)) labels.disk = pick(rng, ['ssd', 'hdd'])
    const podsPerJob: Record<string, number> = {}
    for (const job of jobs) if (chance(rng, 20)) podsPerJob[job] = randomInt(rng, 1, 4)
    const ports = new Set<number>()
    for (const port of knownPorts) if (chance(rng, 15)) ports.add(port)
    if (chance(rng, 5)) for (let port = range.min; port <= range.max; port++) if (chance(rng, 97)) ports.add(port)
    nodes.push({
      id: `n${i}` as NodeId,
      pool: pick(rng, pools),
      labels,
      liveness: chance(rng, 80) ? 'alive' : pick(rng, ['suspect', 'dead'] as const),
      health: chance(rng, 90) ? 'healthy' : 'unhealthy',
      allocatable,
      allocated: { cpuMillicores: share(allocatable.cpuMillicores), memoryBytes: share(allocatable.memoryBytes), diskBytes: share(allocatable.diskBytes) },
      ports: shuffled(rng, [...ports]),
      podsPerJob
    })
  }
  const maxPerHost = new Map(jobs.map(job => [job, chance(rng, 40) ? randomInt(rng, 1, 4) : 0]))
  const pending: PendingPod[] = []
  const podCount = randomInt(rng, 0, 61)
  for (let i = 0; i < podCount; i++) {
    const job = pick(rng, jobs)
    const labels: Record<string, string> = {}
    if (chance(rng, 25)) labels.zone = pick(rng, ['a', 'b'])
    if (chance(rng, 10)) labels.disk = 'ssd'
    const fixed = new Set<number>()
    if (chance(rng, 30)) for (let k = randomInt(rng, 1, 3); k > 0; k--) fixed.add(pick(rng, knownPorts))
    pending.push({
      id: `p${i}` as ContainerId,
      job: job as JobId,
      priority: pick(rng, [0, 100, 100, 200, 300]),
      pools: chance(rng, 50) ? [] : shuffled(rng, pools).slice(0, randomInt(rng, 1, 3)),
      labels,
      maxPerHost: maxPerHost.get(job) ?? 0,
      request: { cpuMillicores: randomInt(rng, 0, 41) * 100, memoryBytes: randomInt(rng, 0, 9) * gib / 2, diskBytes: randomInt(rng, 0, 41) * gib },
      fixedPorts: [...fixed],
      dynamicPorts: chance(rng, 3) ? randomInt(rng, 3000, 6000) : chance(rng, 40) ? randomInt(rng, 1, 4) : 0,
      strategy: chance(rng, 50) ? 'spread' : 'binpack'
    })
  }
  return { snapshot: { nodes }, pending }
}

/** What the test itself thinks of a node as a plan fills it, written apart from `firstFailure`. */
interface Tally {
  cpu: number
  memory: number
  disk: number
  readonly ports: Map<number, string>
  readonly perJob: Map<string, number>
}

function tallies (snapshot: SchedulerSnapshot): Map<NodeId, Tally> {
  return new Map(snapshot.nodes.map(n => [n.id, {
    cpu: n.allocated.cpuMillicores,
    memory: n.allocated.memoryBytes,
    disk: n.allocated.diskBytes,
    ports: new Map(n.ports.map(port => [port, 'held'])),
    perJob: new Map(Object.entries(n.podsPerJob))
  }]))
}

/** Whether the node takes the pod, by the test's own reading of the rules. */
function takes (n: SchedulerNode, tally: Tally, p: PendingPod): boolean {
  if (n.liveness !== 'alive' || n.health !== 'healthy') return false
  if (p.pools.length > 0 && !p.pools.includes(n.pool)) return false
  if (Object.entries(p.labels).some(([key, value]) => !Object.hasOwn(n.labels, key) || n.labels[key] !== value)) return false
  if (p.maxPerHost > 0 && (tally.perJob.get(p.job) ?? 0) >= p.maxPerHost) return false
  if (tally.cpu + p.request.cpuMillicores > n.allocatable.cpuMillicores) return false
  if (tally.memory + p.request.memoryBytes > n.allocatable.memoryBytes) return false
  if (tally.disk + p.request.diskBytes > n.allocatable.diskBytes) return false
  if (p.fixedPorts.some(port => tally.ports.has(port))) return false
  let free = 0
  for (let port = range.min; port <= range.max && free < p.dynamicPorts; port++) if (!tally.ports.has(port) && !p.fixedPorts.includes(port)) free++
  return free >= p.dynamicPorts
}

const propertySeeds = Array.from({ length: 200 }, (_, i) => i)

test('properties: each pod once; no over-commit, port reuse or maxPerHost breach; placements pass every filter; unplaced pods had no room', t => {
  let placedTotal = 0
  let unplacedTotal = 0
  const excludedBy = new Set<string>()
  for (const seed of propertySeeds) {
    const { snapshot, pending } = randomCluster(seed)
    const plan = schedule(snapshot, pending, { seed })
    const where = `seed ${seed}`
    placedTotal += plan.placed.length
    unplacedTotal += plan.unplaced.length

    // Every pending pod exactly once.
    t.deepEqual([...plan.placed.map(p => p.pod), ...plan.unplaced.map(p => p.pod)].sort(), pending.map(p => p.id).sort(), where)

    // Replay the plan in the order it was made (priority, job, id), placed and unplaced together.
    const nodeById = new Map(snapshot.nodes.map(n => [n.id, n]))
    const decisions = new Map<ContainerId, { node: NodeId, ports: readonly number[] } | { excluded: Partial<Record<FilterName, number>> }>()
    for (const p of plan.placed) decisions.set(p.pod, { node: p.node, ports: p.ports })
    for (const p of plan.unplaced) decisions.set(p.pod, { excluded: p.excluded })
    const ordered = [...pending].sort((a, b) => a.priority - b.priority || (a.job < b.job ? -1 : a.job > b.job ? 1 : 0) || (a.id < b.id ? -1 : 1))
    t.deepEqual(plan.placed.map(p => p.pod), ordered.filter(p => plan.placed.some(q => q.pod === p.id)).map(p => p.id), `${where}: placed in priority order`)
    const state = tallies(snapshot)
    for (const p of ordered) {
      const decision = decisions.get(p.id)
      if (decision === undefined) continue
      if ('excluded' in decision) {
        const counts = Object.values(decision.excluded)
        t.is(counts.reduce((sum, count) => sum + count, 0), snapshot.nodes.length, `${where}: ${p.id} excluded by every node`)
        t.true(counts.every(count => count > 0), `${where}: ${p.id} lists no filter with 0`)
        for (const filter of Object.keys(decision.excluded)) {
          t.true((filterNames as readonly string[]).includes(filter), `${where}: ${filter} is a filter`)
          excludedBy.add(filter)
        }
        // No node could take it when its turn came.
        t.false(snapshot.nodes.some(n => takes(n, state.get(n.id) as Tally, p)), `${where}: ${p.id} was unplaced though a node had room`)
        // And the counts are the first failures against the nodes as the plan stood then.
        const views = snapshot.nodes.map(n => {
          const tally = state.get(n.id) as Tally
          const v: NodeView = { ...n, allocated: { cpuMillicores: tally.cpu, memoryBytes: tally.memory, diskBytes: tally.disk }, ports: new Set(tally.ports.keys()), podsPerJob: new Map(tally.perJob) }
          return v
        })
        const expected: Partial<Record<FilterName, number>> = {}
        for (const v of views) {
          const failure = firstFailure(v, p, range)
          if (failure !== undefined) expected[failure] = (expected[failure] ?? 0) + 1
        }
        t.deepEqual(decision.excluded, expected, `${where}: ${p.id} exclusions`)
        continue
      }
      const n = nodeById.get(decision.node)
      t.truthy(n, `${where}: ${p.id} on a node of the snapshot`)
      if (n === undefined) continue
      const tally = state.get(n.id) as Tally
      t.true(n.liveness === 'alive' && n.health === 'healthy', `${where}: ${p.id} on a live, healthy node`)
      t.true(p.pools.length === 0 || p.pools.includes(n.pool), `${where}: ${p.id} in its pool`)
      t.true(Object.entries(p.labels).every(([key, value]) => n.labels[key] === value), `${where}: ${p.id} has its labels`)
      t.true(p.maxPerHost === 0 || (tally.perJob.get(p.job) ?? 0) < p.maxPerHost, `${where}: ${p.id} within maxPerHost`)
      t.true(takes(n, tally, p), `${where}: ${p.id} fits ${n.id}`)
      t.is(decision.ports.length, p.dynamicPorts, `${where}: ${p.id} got its dynamic ports`)
      t.true(decision.ports.every(port => port >= range.min && port <= range.max), `${where}: ${p.id} dynamic ports in range`)
      for (const port of [...p.fixedPorts, ...decision.ports]) {
        t.false(tally.ports.has(port), `${where}: port ${port} on ${n.id} taken by ${p.id} and ${tally.ports.get(port) ?? '?'}`)
        tally.ports.set(port, p.id)
      }
      tally.cpu += p.request.cpuMillicores
      tally.memory += p.request.memoryBytes
      tally.disk += p.request.diskBytes
      tally.perJob.set(p.job, (tally.perJob.get(p.job) ?? 0) + 1)
    }

    // Never over-committed: on every node the plan used, original allocation plus placements fit.
    const used = new Set(plan.placed.map(p => p.node))
    for (const n of snapshot.nodes) {
      if (!used.has(n.id)) continue
      const tally = state.get(n.id) as Tally
      t.true(tally.cpu <= n.allocatable.cpuMillicores && tally.memory <= n.allocatable.memoryBytes && tally.disk <= n.allocatable.diskBytes, `${where}: ${n.id} over-committed`)
    }
  }
  // The generator reaches the interesting cases: many placements, many rejections, every filter.
  t.true(placedTotal > 1000, `${placedTotal} placed`)
  t.true(unplacedTotal > 300, `${unplacedTotal} unplaced`)
  t.deepEqual([...excludedBy].sort(), [...filterNames].sort())
})

test('properties: the same seed gives the same plan, whatever the order of the pending pods, and changes no input', t => {
  let differs = 0
  for (const seed of propertySeeds) {
    const { snapshot, pending } = randomCluster(seed)
    const before = structuredClone({ snapshot, pending })
    const plan: Plan = schedule(snapshot, pending, { seed })
    t.deepEqual(schedule(snapshot, pending, { seed }), plan, `seed ${seed}`)
    t.deepEqual(schedule(snapshot, shuffled(new SeededRng(seed + 1000), pending), { seed }), plan, `seed ${seed}, pods shuffled`)
    t.deepEqual({ snapshot, pending }, before, `seed ${seed}: inputs unchanged`)
    if (JSON.stringify(schedule(snapshot, pending, { seed: seed + 1 })) !== JSON.stringify(plan)) differs++
  }
  // Another seed usually gives another plan (ties are broken by the walk).
  t.true(differs > 20, `${differs} of ${propertySeeds.length} plans change with the seed`)
})
