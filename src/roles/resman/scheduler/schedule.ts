import { assert } from '../../../lib/assert.js'
import { randomInt, SeededRng, shuffled } from '../../../lib/rng.js'
import { firstFailure, freePorts, type NodeView } from './feasible.js'
import { score } from './rank.js'
import type { FilterName, PendingPod, Plan, PlannedPod, SchedulerSnapshot, UnplacedPod } from './snapshot.js'

/** Named bounds of the scheduler. */
export const schedulerLimits = {
  /**
   * How many feasible nodes are ranked for one pod (the best of them wins): Nomad's limit, which
   * keeps a placement cheap on thousands of nodes at the cost of the perfect choice.
   */
  candidates: 8,
  /** Where dynamic ports come from. */
  portRange: { min: 20_000, max: 32_767 }
} as const

/**
 * Places pending pods on nodes: most important first (priority, then job, then id); for each,
 * nodes are visited in a seeded random order, continuing where the last pod stopped, through the
 * filters of `firstFailure` until `candidates` feasible ones are found, and the best by `score`
 * takes it. What a plan places counts for the pods after it. A pod no node can take has, per
 * filter, how many nodes it excluded (every node was visited). Pure: the same snapshot, pods and
 * seed give the same plan, and the inputs are never changed.
 */
export function schedule (snapshot: SchedulerSnapshot, pending: readonly PendingPod[], options: { readonly seed: number, readonly candidates?: number }): Plan {
  const candidates = options.candidates ?? schedulerLimits.candidates
  assert(Number.isSafeInteger(candidates) && candidates >= 1, 'the scheduler ranks at least one candidate', { candidates })
  const range = schedulerLimits.portRange
  // The job spec checks what a pod asks for; a request that is not a count here is a bug upstream.
  for (const pod of pending) {
    const { cpuMillicores, memoryBytes, diskBytes } = pod.request
    assert([cpuMillicores, memoryBytes, diskBytes, pod.dynamicPorts].every(isCount) && Number.isSafeInteger(pod.priority), 'a pending pod asks for whole, non-negative amounts', { pod: pod.id })
    assert(pod.fixedPorts.every(port => Number.isInteger(port) && port >= 1 && port <= 65_535) && new Set(pod.fixedPorts).size === pod.fixedPorts.length, 'a pending pod\'s fixed ports are distinct and between 1 and 65535', { pod: pod.id })
  }
  const views: NodeView[] = snapshot.nodes.map(node => ({
    id: node.id,
    pool: node.pool,
    labels: node.labels,
    liveness: node.liveness,
    health: node.health,
    allocatable: node.allocatable,
    allocated: node.allocated,
    ports: new Set(node.ports),
    podsPerJob: new Map(Object.entries(node.podsPerJob))
  }))
  const order = shuffled(new SeededRng(options.seed), views)
  // Dynamic ports from a random point of the range: a port some other program on the host holds
  // (or another node on the same host) is not picked again and again for every pod.
  const portRng = new SeededRng(options.seed + 1)
  const count = order.length
  let cursor = 0
  const placed: PlannedPod[] = []
  const unplaced: UnplacedPod[] = []
  const pods = [...pending].sort((a, b) => a.priority - b.priority || compare(a.job, b.job) || compare(a.id, b.id))
  // A pod that could not be placed changes nothing (nodes, where the walk goes on): the next pod
  // with the same needs cannot be placed either, for the same reasons. A job's pods come together.
  let lastUnplaced: { readonly pod: PendingPod, readonly excluded: Partial<Record<FilterName, number>> } | undefined
  for (const pod of pods) {
    if (lastUnplaced !== undefined && sameNeeds(pod, lastUnplaced.pod)) {
      unplaced.push({ pod: pod.id, excluded: { ...lastUnplaced.excluded } })
      continue
    }
    lastUnplaced = undefined
    const excluded: Partial<Record<FilterName, number>> = {}
    let best: NodeView | undefined
    let bestScore = -Infinity
    let found = 0
    let visited = 0
    while (visited < count && found < candidates) {
      const view = order[(cursor + visited) % count] as NodeView
      visited++
      const failure = firstFailure(view, pod, range)
      if (failure !== undefined) {
        excluded[failure] = (excluded[failure] ?? 0) + 1
        continue
      }
      found++
      const value = score(view, pod)
      if (value > bestScore) {
        best = view
        bestScore = value
      }
    }
    cursor = count === 0 ? 0 : (cursor + visited) % count
    if (best === undefined) {
      unplaced.push({ pod: pod.id, excluded })
      lastUnplaced = { pod, excluded }
      continue
    }
    const ports = pod.dynamicPorts === 0 ? [] : freePorts(best, pod, range, randomInt(portRng, range.min, range.max + 1))
    best.allocated = {
      cpuMillicores: best.allocated.cpuMillicores + pod.request.cpuMillicores,
      memoryBytes: best.allocated.memoryBytes + pod.request.memoryBytes,
      diskBytes: best.allocated.diskBytes + pod.request.diskBytes
    }
    for (const port of [...pod.fixedPorts, ...ports]) best.ports.add(port)
    best.podsPerJob.set(pod.job, (best.podsPerJob.get(pod.job) ?? 0) + 1)
    placed.push({ pod: pod.id, node: best.id, ports })
  }
  return { placed, unplaced }
}

/** Whether two pods ask for exactly the same: then the filters treat them alike. */
function sameNeeds (a: PendingPod, b: PendingPod): boolean {
  return a.job === b.job && a.priority === b.priority && a.maxPerHost === b.maxPerHost && a.strategy === b.strategy &&
    a.dynamicPorts === b.dynamicPorts && a.request.cpuMillicores === b.request.cpuMillicores &&
    a.request.memoryBytes === b.request.memoryBytes && a.request.diskBytes === b.request.diskBytes &&
    sameList(a.pools, b.pools) && sameList(a.fixedPorts, b.fixedPorts) &&
    Object.keys(a.labels).length === Object.keys(b.labels).length && Object.entries(a.labels).every(([key, value]) => b.labels[key] === value)
}

function sameList<T> (a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index])
}

function isCount (value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0
}

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
