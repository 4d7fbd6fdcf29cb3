// The ResMan's pure scheduler on a generated cluster: placements per second of `schedule(...)` on
// one core. Snapshots and pods come from a seeded generator (varied node shapes, pools, zone and
// rack labels, some nodes partly allocated, a few suspect, dead or unhealthy; jobs with mixed
// priorities, pool and label constraints, maxPerHost, fixed and dynamic ports, spread and
// binpack). Only `schedule(...)` is timed; every plan is checked afterwards, outside the timing,
// so that a bug cannot make it fast.
//
// Scenarios: (a) everything fits, default candidates; (b) a tight cluster (the same pods on
// smaller nodes) where about a tenth cannot be placed, timed with and without its unplaced pods
// (an unplaced pod visits every node; a placed pod's plan does not depend on them, so the
// difference is their cost); (c) the candidates limit at 1, 8 and 32 on (a)'s pods all made
// `spread`, with the standard deviation of node cpu fullness within pools as the quality measure.
//
// Usage: node --import tsx bench/scheduler.ts [--nodes 5000] [--pods 100000] [--runs 5] [--seed 1]
//        [--tight 0.55] [--only default,tight,candidates]
import { cpus } from 'node:os'
import { parseArgs } from 'node:util'
import type { ContainerId, JobId, NodeId } from '../src/lib/ids.js'
import { randomFloat, randomInt, SeededRng, shuffled, type Rng } from '../src/lib/rng.js'
import { schedule, schedulerLimits } from '../src/roles/resman/scheduler/schedule.js'
import type { FilterName, PendingPod, Plan, SchedulerNode, SchedulerResources, SchedulerSnapshot } from '../src/roles/resman/scheduler/snapshot.js'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5000' },
    pods: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    tight: { type: 'string', default: '0.55' },
    only: { type: 'string', default: 'default,tight,candidates' }
  }
})
const nodeCount = Number(values.nodes)
const podCount = Number(values.pods)
const runs = Number(values.runs)
const seed = Number(values.seed)
const tightScale = Number(values.tight)
const only = new Set(values.only.split(','))

const GiB = 2 ** 30
const MiB = 2 ** 20
const pools = [['default', 65], ['batch', 20], ['edge', 10], ['gpu', 5]] as const
const zones = ['zone-a', 'zone-b', 'zone-c'] as const

function pick<T> (rng: Rng, weighted: ReadonlyArray<readonly [T, number]>): T {
  const total = weighted.reduce((sum, [, weight]) => sum + weight, 0)
  let at = randomFloat(rng) * total
  for (const [value, weight] of weighted) {
    if (at < weight) return value
    at -= weight
  }
  return (weighted[weighted.length - 1] as readonly [T, number])[0]
}

function between (rng: Rng, low: number, high: number): number {
  return low + randomFloat(rng) * (high - low)
}

// ---- Jobs (names and kinds first: nodes already run pods of some of them) ----

interface JobKind { readonly kind: 'monitor' | 'service' | 'batch' | 'besteffort', readonly priority: number }
const kinds: ReadonlyArray<readonly [JobKind, number]> = [
  [{ kind: 'monitor', priority: 0 }, 3],
  [{ kind: 'service', priority: 100 }, 52],
  [{ kind: 'batch', priority: 200 }, 35],
  [{ kind: 'besteffort', priority: 300 }, 10]
]

interface JobHead extends JobKind { readonly id: JobId }

function jobHeads (rng: Rng): JobHead[] {
  const count = randomInt(rng, 100, 501)
  return Array.from({ length: count }, (_, i) => {
    const kind = pick(rng, kinds)
    return { ...kind, id: `${kind.kind}-${i}` as JobId }
  })
}

// ---- Nodes ----

const base58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

/** `scale` shrinks every node (the tight cluster); the same seed gives the same nodes otherwise. */
function generateNodes (nodeSeed: number, count: number, jobs: readonly JobHead[], scale: number): SchedulerNode[] {
  const rng = new SeededRng(nodeSeed)
  const nodes: SchedulerNode[] = []
  for (let i = 0; i < count; i++) {
    let id = '12D3KooW'
    for (let c = 0; c < 44; c++) id += base58[randomInt(rng, 0, base58.length)] as string
    const cores = pick(rng, [[8, 20], [16, 30], [32, 25], [48, 15], [64, 10]] as const)
    const memoryGiB = cores * pick(rng, [[4, 40], [8, 60]] as const)
    const diskGiB = pick(rng, [[250, 15], [500, 30], [1000, 30], [2000, 15], [4000, 10]] as const)
    const allocatable: SchedulerResources = {
      cpuMillicores: Math.floor((cores * 1000 * 0.98 - 500) * scale),
      memoryBytes: Math.floor((memoryGiB * GiB * 0.97 - GiB) * scale),
      diskBytes: Math.floor(diskGiB * GiB * 0.95 * scale)
    }
    const rack = Math.floor(i / 40)
    const labels = {
      zone: zones[rack % zones.length] as string,
      rack: `rack-${rack}`,
      disk: randomFloat(rng) < 0.7 ? 'ssd' : 'hdd',
      arch: randomFloat(rng) < 0.95 ? 'amd64' : 'arm64'
    }
    const roll = randomFloat(rng)
    const liveness = roll < 0.01 ? 'suspect' : roll < 0.015 ? 'dead' : 'alive'
    const health = randomFloat(rng) < 0.005 ? 'unhealthy' : 'healthy'
    // About 30 % run pods already: 10–60 % of their cpu, memory and disk in proportion, 1–10
    // pods of the benchmark's own jobs, their dynamic ports from the bottom of the range, and on
    // some a node exporter's 9100.
    let allocated: SchedulerResources = { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0 }
    const ports: number[] = []
    const podsPerJob: Record<string, number> = {}
    if (randomFloat(rng) < 0.3) {
      const fullness = between(rng, 0.1, 0.6)
      allocated = {
        cpuMillicores: Math.floor(allocatable.cpuMillicores * fullness),
        memoryBytes: Math.floor(allocatable.memoryBytes * Math.min(0.9, fullness * between(rng, 0.5, 1.3))),
        diskBytes: Math.floor(allocatable.diskBytes * fullness * between(rng, 0.2, 0.7))
      }
      const running = randomInt(rng, 1, 11)
      for (let p = 0; p < running; p++) {
        const job = (jobs[randomInt(rng, 0, jobs.length)] as JobHead).id
        podsPerJob[job] = (podsPerJob[job] ?? 0) + 1
        const held = randomInt(rng, 0, 3)
        for (let k = 0; k < held; k++) ports.push(schedulerLimits.portRange.min + ports.length)
      }
      if (randomFloat(rng) < 0.1) ports.push(9100)
    }
    nodes.push({ id: id as NodeId, pool: pick(rng, pools), labels, liveness, health, allocatable, allocated, ports, podsPerJob })
  }
  return nodes
}

// ---- Pods ----

interface Constraint { readonly pools: readonly string[], readonly labels: Readonly<Record<string, string>> }

function matches (node: SchedulerNode, constraint: Constraint): boolean {
  if (node.liveness !== 'alive' || node.health !== 'healthy') return false
  if (constraint.pools.length > 0 && !constraint.pools.includes(node.pool)) return false
  for (const key in constraint.labels) if (node.labels[key] !== constraint.labels[key]) return false
  return true
}

/**
 * ~100,000 pods of the jobs, by job sizes spread over two orders of magnitude. A pool or label
 * constraint is kept only while the jobs under it ask for at most half of what its nodes have
 * free, and maxPerHost and fixed ports only where the job's nodes can hold it twice over, so that
 * everything fits on the default cluster.
 */
function generatePods (rng: Rng, heads: readonly JobHead[], nodes: readonly SchedulerNode[], count: number): PendingPod[] {
  const weights = heads.map(head => head.kind === 'monitor' ? 0.3 : Math.exp(between(rng, 0, 4.5)))
  const total = weights.reduce((sum, w) => sum + w, 0)
  const sizes = weights.map(w => Math.floor(count * w / total))
  for (let i = 0, left = count - sizes.reduce((sum, s) => sum + s, 0); left > 0; i = (i + 1) % sizes.length, left--) sizes[i] = (sizes[i] as number) + 1
  const budgets = new Map<string, { cpu: number, memory: number }>()
  const pods: PendingPod[] = []
  for (const [j, head] of heads.entries()) {
    const size = sizes[j] as number
    if (size === 0) continue
    const cpuMillicores = pick(rng, [[100, 20], [250, 25], [500, 25], [1000, 18], [2000, 9], [4000, 3]] as const)
    const request: SchedulerResources = {
      cpuMillicores,
      memoryBytes: Math.max(128 * MiB, Math.round(cpuMillicores / 1000 * pick(rng, [[1, 25], [2, 35], [4, 30], [8, 10]] as const) * GiB)),
      diskBytes: Math.round(between(rng, 0.5, 20) * GiB)
    }
    let constraint: Constraint = { pools: [], labels: {} }
    const poolRoll = randomFloat(rng)
    const wanted: Constraint = {
      pools: head.kind === 'batch' && poolRoll < 0.3 ? ['batch'] : poolRoll < 0.15 ? ['default'] : poolRoll < 0.2 ? ['edge'] : poolRoll < 0.23 ? ['gpu'] : poolRoll < 0.25 ? ['batch', 'default'] : [],
      labels: randomFloat(rng) < 0.15 ? (randomFloat(rng) < 0.5 ? { zone: zones[randomInt(rng, 0, zones.length)] as string } : { disk: 'ssd' }) : {}
    }
    const eligibleFor = (c: Constraint): SchedulerNode[] => nodes.filter(node => matches(node, c))
    let eligible = eligibleFor(constraint)
    if (wanted.pools.length > 0 || Object.keys(wanted.labels).length > 0) {
      const candidates = eligibleFor(wanted)
      const key = JSON.stringify(wanted)
      const budget = budgets.get(key) ?? {
        cpu: candidates.reduce((sum, node) => sum + node.allocatable.cpuMillicores - node.allocated.cpuMillicores, 0) / 2,
        memory: candidates.reduce((sum, node) => sum + node.allocatable.memoryBytes - node.allocated.memoryBytes, 0) / 2
      }
      budgets.set(key, budget)
      if (budget.cpu >= size * request.cpuMillicores && budget.memory >= size * request.memoryBytes) {
        budget.cpu -= size * request.cpuMillicores
        budget.memory -= size * request.memoryBytes
        constraint = wanted
        eligible = candidates
      }
    }
    let maxPerHost = 0
    if ((head.kind === 'service' || head.kind === 'monitor') && randomFloat(rng) < 0.4) {
      maxPerHost = Math.max(randomInt(rng, 1, 4), Math.ceil(2 * size / eligible.length))
    }
    const fixedPorts: number[] = []
    if (head.kind === 'monitor' && size * 2 <= eligible.length) fixedPorts.push(9100)
    else if (randomFloat(rng) < 0.05 && size * 2 <= eligible.length) fixedPorts.push(8000 + j)
    const dynamicPorts = pick(rng, [[0, 40], [1, 45], [2, 15]] as const)
    const binpackShare = head.kind === 'batch' || head.kind === 'besteffort' ? 0.5 : 0.05
    const strategy = randomFloat(rng) < binpackShare ? 'binpack' : 'spread'
    for (let p = 0; p < size; p++) {
      pods.push({ id: `${head.id}.${p}` as ContainerId, job: head.id, priority: head.priority, pools: constraint.pools, labels: constraint.labels, maxPerHost, request, fixedPorts, dynamicPorts, strategy })
    }
  }
  // The order pods reach the ResMan in, not the order the scheduler takes them in.
  return shuffled(rng, pods)
}

// ---- Checking a plan, independently of the scheduler's code ----

interface Checked {
  /** cpu allocated / allocatable of every alive, healthy node after the plan, with its pool. */
  readonly fullness: Array<{ pool: string, value: number }>
  readonly fullnessBefore: Array<{ pool: string, value: number }>
  readonly excludedBy: Partial<Record<FilterName, number>>
}

function check (snapshot: SchedulerSnapshot, pending: readonly PendingPod[], plan: Plan): Checked {
  const fail = (what: string): never => { throw new Error(`invalid plan: ${what}`) }
  const pods = new Map(pending.map(pod => [pod.id as string, pod]))
  const seen = new Set<string>()
  const once = (id: string): PendingPod => {
    const pod = pods.get(id) ?? fail(`unknown pod ${id}`)
    if (seen.has(id)) fail(`pod ${id} twice`)
    seen.add(id)
    return pod
  }
  const state = new Map(snapshot.nodes.map(node => [node.id as string, {
    node,
    cpu: node.allocated.cpuMillicores,
    memory: node.allocated.memoryBytes,
    disk: node.allocated.diskBytes,
    ports: new Set(node.ports),
    perJob: new Map(Object.entries(node.podsPerJob))
  }]))
  const { min, max } = schedulerLimits.portRange
  for (const { pod: id, node: nodeId, ports } of plan.placed) {
    const pod = once(id)
    const at = state.get(nodeId) ?? fail(`unknown node ${nodeId}`)
    if (!matches(at.node, pod)) fail(`${id} on a node it may not use`)
    const already = at.perJob.get(pod.job) ?? 0
    if (pod.maxPerHost > 0 && already >= pod.maxPerHost) fail(`${id} over maxPerHost`)
    at.perJob.set(pod.job, already + 1)
    at.cpu += pod.request.cpuMillicores
    at.memory += pod.request.memoryBytes
    at.disk += pod.request.diskBytes
    if (at.cpu > at.node.allocatable.cpuMillicores || at.memory > at.node.allocatable.memoryBytes || at.disk > at.node.allocatable.diskBytes) fail(`${nodeId} over-committed by ${id}`)
    if (ports.length !== pod.dynamicPorts) fail(`${id} got ${ports.length} dynamic ports`)
    for (const port of ports) if (port < min || port > max) fail(`${id} got port ${port} out of range`)
    for (const port of [...pod.fixedPorts, ...ports]) {
      if (at.ports.has(port)) fail(`port ${port} twice on ${nodeId}`)
      at.ports.add(port)
    }
  }
  const excludedBy: Partial<Record<FilterName, number>> = {}
  const unplaced: PendingPod[] = []
  for (const { pod: id, excluded } of plan.unplaced) {
    unplaced.push(once(id))
    let visited = 0
    for (const [filter, count] of Object.entries(excluded) as Array<[FilterName, number]>) {
      visited += count
      excludedBy[filter] = (excludedBy[filter] ?? 0) + count
    }
    if (visited !== snapshot.nodes.length) fail(`${id} unplaced after ${visited} of ${snapshot.nodes.length} nodes`)
  }
  if (seen.size !== pending.length) fail(`${pending.length - seen.size} pods neither placed nor unplaced`)
  // Nodes only fill up during a plan, so a pod left out must not fit anywhere at the end either
  // (a sample: the whole check is the scheduler's own worst case again).
  for (const pod of unplaced.filter((_, i) => i % Math.max(1, Math.floor(unplaced.length / 200)) === 0)) {
    for (const at of state.values()) {
      const fits = matches(at.node, pod) &&
        (pod.maxPerHost === 0 || (at.perJob.get(pod.job) ?? 0) < pod.maxPerHost) &&
        at.cpu + pod.request.cpuMillicores <= at.node.allocatable.cpuMillicores &&
        at.memory + pod.request.memoryBytes <= at.node.allocatable.memoryBytes &&
        at.disk + pod.request.diskBytes <= at.node.allocatable.diskBytes &&
        pod.fixedPorts.every(port => !at.ports.has(port)) &&
        max - min + 1 - [...at.ports].filter(port => port >= min && port <= max && !pod.fixedPorts.includes(port)).length >= pod.dynamicPorts
      if (fits) fail(`${pod.id} unplaced but fits ${at.node.id}`)
    }
  }
  const usable = [...state.values()].filter(at => at.node.liveness === 'alive' && at.node.health === 'healthy')
  return {
    fullness: usable.map(at => ({ pool: at.node.pool, value: at.cpu / at.node.allocatable.cpuMillicores })),
    fullnessBefore: usable.map(at => ({ pool: at.node.pool, value: at.node.allocated.cpuMillicores / at.node.allocatable.cpuMillicores })),
    excludedBy
  }
}

function samePlan (a: Plan, b: Plan): boolean {
  if (a.placed.length !== b.placed.length || a.unplaced.length !== b.unplaced.length) return false
  return a.placed.every((p, i) => {
    const q = b.placed[i]
    return q !== undefined && p.pod === q.pod && p.node === q.node && p.ports.join() === q.ports.join()
  })
}

// ---- Measuring ----

/**
 * Mean, maximum, the share of nodes over 90 % and the standard deviation within pools (each node
 * against its pool's mean): pools are loaded unevenly by the jobs constrained to them, which no
 * ranking can change.
 */
function stats (xs: ReadonlyArray<{ pool: string, value: number }>): { mean: number, sd: number, max: number, over90: number } {
  const byPool = new Map<string, { sum: number, n: number }>()
  for (const { pool, value } of xs) {
    const at = byPool.get(pool) ?? { sum: 0, n: 0 }
    at.sum += value
    at.n++
    byPool.set(pool, at)
  }
  const poolMean = (pool: string): number => { const at = byPool.get(pool) as { sum: number, n: number }; return at.sum / at.n }
  const mean = xs.reduce((sum, x) => sum + x.value, 0) / xs.length
  const sd = Math.sqrt(xs.reduce((sum, x) => sum + (x.value - poolMean(x.pool)) ** 2, 0) / xs.length)
  return { mean, sd, max: xs.reduce((most, x) => Math.max(most, x.value), 0), over90: xs.filter(x => x.value > 0.9).length / xs.length }
}

function median (xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

interface Measured { readonly plan: Plan, readonly ms: number[], readonly checked: Checked }

/** One warm-up call, then `runs` timed calls; every plan is checked and must equal the first. */
function measure (snapshot: SchedulerSnapshot, pending: readonly PendingPod[], candidates: number): Measured {
  const plan = schedule(snapshot, pending, { seed, candidates })
  const checked = check(snapshot, pending, plan)
  const ms: number[] = []
  for (let r = 0; r < runs; r++) {
    const started = performance.now()
    const again = schedule(snapshot, pending, { seed, candidates })
    ms.push(performance.now() - started)
    if (!samePlan(plan, again)) throw new Error('the same inputs gave a different plan')
  }
  return { plan, ms, checked }
}

const fmt = (x: number, digits = 0): string => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
const peakRssMiB = (): number => process.resourceUsage().maxRSS / 1024

function row (scenario: string, candidates: number, pending: number, { plan, ms, checked }: Measured, quality = true): string {
  const rate = ms.map(m => plan.placed.length / (m / 1000))
  const per100k = ms.map(m => m * 100_000 / plan.placed.length)
  const { sd, over90 } = stats(checked.fullness)
  return `| ${scenario} | ${candidates} | ${fmt(pending)} | ${fmt(plan.placed.length)} | ${fmt(plan.unplaced.length)} | ${fmt(median(rate))} [${fmt(Math.min(...rate))}–${fmt(Math.max(...rate))}] | ${fmt(median(per100k))} [${fmt(Math.min(...per100k))}–${fmt(Math.max(...per100k))}] | ${quality ? `${fmt(sd, 3)} / ${fmt(over90 * 100, 1)} %` : '—'} |`
}

const generatorRng = new SeededRng(seed)
const heads = jobHeads(generatorRng)
const nodes = generateNodes(seed + 1, nodeCount, heads, 1)
const pending = generatePods(generatorRng, heads, nodes, podCount)
const snapshot: SchedulerSnapshot = { nodes }
const usable = nodes.filter(node => node.liveness === 'alive' && node.health === 'healthy').length
const totalCpu = nodes.reduce((sum, node) => sum + node.allocatable.cpuMillicores, 0)
const askedCpu = pending.reduce((sum, pod) => sum + pod.request.cpuMillicores, 0)
const heldCpu = nodes.reduce((sum, node) => sum + node.allocated.cpuMillicores, 0)
const count = <T>(xs: readonly T[], test: (x: T) => boolean): number => xs.reduce((sum, x) => sum + (test(x) ? 1 : 0), 0)

console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}; seed ${seed}, ${runs} timed runs after one warm-up per row`)
console.log(`Cluster: ${fmt(nodeCount)} nodes (${fmt(usable)} alive and healthy, ${fmt(count(nodes, n => n.allocated.cpuMillicores > 0))} partly allocated), ${fmt(totalCpu / 1000)} cores allocatable, ${fmt(heldCpu / totalCpu * 100, 1)} % already held`)
console.log(`Pods: ${fmt(pending.length)} of ${heads.length} jobs asking ${fmt(askedCpu / totalCpu * 100, 1)} % of the cpu; ${fmt(count(pending, p => p.pools.length > 0))} with pools, ${fmt(count(pending, p => Object.keys(p.labels).length > 0))} with labels, ${fmt(count(pending, p => p.maxPerHost > 0))} with maxPerHost, ${fmt(count(pending, p => p.fixedPorts.length > 0))} with a fixed port, ${fmt(count(pending, p => p.dynamicPorts > 0))} with dynamic ports, ${fmt(count(pending, p => p.strategy === 'binpack'))} binpack`)
console.log(`Memory after generating the inputs: RSS ${fmt(process.memoryUsage().rss / MiB)} MiB, peak ${fmt(peakRssMiB())} MiB`)
console.log('\n| scenario | candidates | pods | placed | unplaced | placements/s: median [min–max] | ms per 100,000 placements: median [min–max] | cpu fullness σ / nodes > 90 % cpu |\n| --- | --- | --- | --- | --- | --- | --- | --- |')

const before = stats(check(snapshot, [], { placed: [], unplaced: [] }).fullnessBefore)
const results: Record<string, Measured> = {}
if (only.has('default')) {
  results.default = measure(snapshot, pending, schedulerLimits.candidates)
  if (results.default.plan.unplaced.length > 0) console.log(`(the default cluster left ${results.default.plan.unplaced.length} pods unplaced)`)
  console.log(row('(a) all fit', schedulerLimits.candidates, pending.length, results.default))
}
if (only.has('tight')) {
  const tightNodes = generateNodes(seed + 1, nodeCount, heads, tightScale)
  const tight: SchedulerSnapshot = { nodes: tightNodes }
  const full = measure(tight, pending, schedulerLimits.candidates)
  const placedIds = new Set(full.plan.placed.map(p => p.pod as string))
  const placedOnly = pending.filter(pod => placedIds.has(pod.id))
  const without = measure(tight, placedOnly, schedulerLimits.candidates)
  // Unplaced pods visit every node and change nothing, so the placed ones are planned the same.
  if (!samePlan({ placed: full.plan.placed, unplaced: [] }, without.plan)) throw new Error('the placed pods were planned differently without the unplaced ones')
  console.log(row(`(b) tight (nodes at ${tightScale}×)`, schedulerLimits.candidates, pending.length, full, false))
  console.log(row('(b) tight, its placed pods only', schedulerLimits.candidates, placedOnly.length, without, false))
  results.tight = full
  const unplacedMs = full.ms.map((m, i) => m - (without.ms[i] as number))
  const unplacedCount = full.plan.unplaced.length
  console.log(`\nTight: ${fmt(unplacedCount)} of ${fmt(pending.length)} unplaced (${fmt(unplacedCount / pending.length * 100, 1)} %); they cost ${fmt(median(unplacedMs))} ms [${fmt(Math.min(...unplacedMs))}–${fmt(Math.max(...unplacedMs))}] of the call, ${fmt(median(unplacedMs) * 1000 / Math.max(1, unplacedCount), 1)} µs each (${fmt(median(unplacedMs) * 1e6 / Math.max(1, unplacedCount * nodeCount), 1)} ns per node visited); first filter failed, over all their node visits: ${Object.entries(full.checked.excludedBy).sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ${fmt(n / (unplacedCount * nodeCount) * 100, 1)} %`).join(', ')}`)
}
if (only.has('candidates')) {
  const spreadOnly = pending.map(pod => ({ ...pod, strategy: 'spread' as const }))
  console.log('\n(c) The same pods, all spread:')
  console.log('\n| candidates | placements/s: median [min–max] | ms per 100,000 placements: median [min–max] | cpu fullness σ | nodes > 90 % cpu |\n| --- | --- | --- | --- | --- |')
  for (const candidates of [1, schedulerLimits.candidates, 32]) {
    const measured = measure(snapshot, spreadOnly, candidates)
    const rate = measured.ms.map(m => measured.plan.placed.length / (m / 1000))
    const per100k = measured.ms.map(m => m * 100_000 / measured.plan.placed.length)
    const { sd, over90 } = stats(measured.checked.fullness)
    console.log(`| ${candidates} | ${fmt(median(rate))} [${fmt(Math.min(...rate))}–${fmt(Math.max(...rate))}] | ${fmt(median(per100k))} [${fmt(Math.min(...per100k))}–${fmt(Math.max(...per100k))}] | ${fmt(sd, 3)} | ${fmt(over90 * 100, 1)} % |${measured.plan.unplaced.length > 0 ? ` (${measured.plan.unplaced.length} unplaced)` : ''}`)
  }
}
console.log(`\ncpu fullness σ is within pools, over the alive, healthy nodes. Before any plan: mean ${fmt(before.mean, 3)}, σ ${fmt(before.sd, 3)}, max ${fmt(before.max, 2)}${results.default !== undefined ? `; after (a): mean ${fmt(stats(results.default.checked.fullness).mean, 3)}` : ''}`)
console.log(`\nPeak RSS of the process (inputs, the plans it keeps, checks and the timed calls): ${fmt(peakRssMiB())} MiB`)
