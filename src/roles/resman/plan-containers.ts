import type { ContainerId, JobId, NodeId, PodId } from '../../lib/ids.js'
import type { ContainerReport } from '../agent/agent-report.js'
import { placementRequest, type Placement } from '../agent/placement.js'
import { podIdOf, podIndexOf, type JobRecord } from '../job/job-record.js'
import { pendingPodOf, placementOf, placementShape, versionShape } from '../job/pod-of-spec.js'
import { schedule } from './scheduler/schedule.js'
import type { FilterName, PendingPod, SchedulerNode } from './scheduler/snapshot.js'

/** A placement as the store holds it: `galaxy/placements/<node>/<container>`. */
export interface PlacedContainer {
  readonly node: NodeId
  readonly placement: Placement
}

/** What the agent last said of one of its containers. */
export interface ReportedContainer {
  readonly state: ContainerReport['state']
  readonly phase: string
  readonly message: string
}

/** A node as the ResMan sees it: the registry, gossip liveness and the agent's last report. */
export interface NodeState {
  readonly id: NodeId
  readonly pool: string
  readonly labels: Readonly<Record<string, string>>
  /** `dead`: silent past the dead timeout. */
  readonly liveness: 'alive' | 'suspect' | 'dead'
  readonly health: 'healthy' | 'unhealthy'
  /** Capacity less reserve. */
  readonly allocatable: SchedulerNode['allocatable']
  /** The agent's last report of its containers, by container id (undefined: no report yet). */
  readonly containers?: ReadonlyMap<string, ReportedContainer> | undefined
}

/** The whole state `planContainers` converges. */
export interface ResManInput {
  readonly jobs: readonly JobRecord[]
  readonly placements: readonly PlacedContainer[]
  readonly nodes: readonly NodeState[]
}

/** What the ResMan does to the store: write or delete a placement, or finish a job with none left. */
export type ResManAction =
  | { readonly type: 'place', readonly node: NodeId, readonly placement: Placement }
  | { readonly type: 'unplace', readonly node: NodeId, readonly container: ContainerId, readonly reason: string }
  | { readonly type: 'finishJob', readonly job: JobId }

/** A job's pods no node could take: how many, and per filter how many nodes excluded the last of them. */
export interface JobUnplaced {
  readonly pods: number
  readonly excluded: Readonly<Partial<Record<FilterName, number>>>
}

/** The actions of one pass (unplaces, then places, then finishJobs) and the pods left waiting, per job. */
export interface ResManPlan {
  readonly actions: readonly ResManAction[]
  readonly unplaced: ReadonlyMap<JobId, JobUnplaced>
}

/** Options of one pass. `newSuffix` names new containers (`<pod>.<suffix>`); it is called in a fixed order. */
export interface PlanOptions {
  readonly seed: number
  /** After a ResMan start, until most agents reported: only removed, stopped and scaled-down pods are unplaced. */
  readonly safeMode: boolean
  readonly newSuffix: () => string
}

/**
 * One level-triggered pass of the ResMan over the whole state (Galaxy 3.0 §5.2, §5.3): every job
 * gets `replica` pods (none once destroying or finished), each in one placement. Placements of
 * gone, stopped or scaled-down pods are deleted; so are those on dead or unknown nodes and those
 * the agent reports failed or refused, and their pods placed again; of two placements of one pod
 * (a pass half done) one is kept. During an update (or its pause), pods whose resource shape
 * changed are made again once out of service: the AppMaster's `quit` paces them. Pure and deterministic: the same input, seed
 * and suffixes give the same plan, and half-done earlier plans converge.
 */
export function planContainers (input: ResManInput, options: PlanOptions): ResManPlan {
  const jobs = new Map(input.jobs.map(job => [job.name, job]))
  const nodes = new Map(input.nodes.map(node => [node.id, node]))
  const unplaces: ResManAction[] = []
  const unplace = (placed: PlacedContainer, reason: string): void => {
    unplaces.push({ type: 'unplace', node: placed.node, container: placed.placement.container, reason })
  }
  const reportOf = (placed: PlacedContainer): ReportedContainer | undefined => nodes.get(placed.node)?.containers?.get(placed.placement.container)

  // 1. Placements that must go whatever else happens; the rest are kept, by pod.
  const kept = new Map<string, PlacedContainer[]>()
  for (const placed of [...input.placements].sort(byPlacement)) {
    const { job: name, pod, container } = placed.placement
    const job = jobs.get(name)
    const reason = job === undefined ? `job ${name} is gone` : unwantedReason(job, pod)
    const node = nodes.get(placed.node)
    const report = reportOf(placed)
    if (reason !== undefined) unplace(placed, reason)
    else if (!options.safeMode && (node === undefined || node.liveness === 'dead')) unplace(placed, `node ${placed.node} is dead`)
    else if (!options.safeMode && (report?.state === 'failed' || report?.state === 'refused')) unplace(placed, report.message === '' ? `container ${container} ${report.state}` : report.message)
    else kept.set(pod, [...kept.get(pod) ?? [], placed])
  }

  // 2. One placement per pod: the best kept, the others unplaced (not in safe mode, when reports may be missing).
  const keepRank = (placed: PlacedContainer): number => {
    const liveness = nodes.get(placed.node)?.liveness ?? 'dead'
    return (liveness === 'alive' ? 0 : liveness === 'suspect' ? 4 : 8) + (reportOf(placed)?.state === 'running' ? 0 : 1)
  }
  const chosen = new Map<string, PlacedContainer>()
  for (const [pod, all] of kept) {
    if (options.safeMode || all.length === 1) {
      chosen.set(pod, all[0] as PlacedContainer)
      continue
    }
    const ranked = [...all].sort((a, b) => keepRank(a) - keepRank(b) || byPlacement(a, b))
    chosen.set(pod, ranked[0] as PlacedContainer)
    for (const other of ranked.slice(1)) unplace(other, `duplicate of ${(ranked[0] as PlacedContainer).placement.container}`)
  }

  // 3. Resource changes during an update, then the pods that need a node.
  const pending: PendingPod[] = []
  const pendingOf = new Map<string, { readonly job: JobRecord, readonly pod: PodId }>()
  for (const job of options.safeMode ? [] : [...jobs.values()].sort((a, b) => compare(a.name, b.name))) {
    const missing: number[] = []
    for (let index = 0; index < desiredPods(job); index++) if (!chosen.has(podIdOf(job.name, index))) missing.push(index)
    if (job.state === 'updating' || job.state === 'paused') {
      for (const placed of replacements(job, chosen, reportOf)) {
        unplace(placed, 'resources changed')
        chosen.delete(placed.placement.pod)
        missing.push(podIndexOf(job.name, placed.placement.pod) as number)
      }
    }
    for (const index of missing.sort((a, b) => a - b)) {
      const pod = podIdOf(job.name, index) as PodId
      const id = `${pod}.${options.newSuffix()}` as ContainerId
      pending.push(pendingPodOf(job.current.spec, id))
      pendingOf.set(id, { job, pod })
    }
  }

  // 4. Schedule them on what the kept placements leave free.
  const places: ResManAction[] = []
  const unplaced = new Map<JobId, JobUnplaced>()
  if (pending.length > 0) {
    const plan = schedule({ nodes: [...nodes.values()].sort((a, b) => compare(a.id, b.id)).map(node => snapshotNode(node, chosen)) }, pending, { seed: options.seed })
    for (const { pod: container, node, ports } of plan.placed) {
      const { job, pod } = pendingOf.get(container) as { readonly job: JobRecord, readonly pod: PodId }
      places.push({ type: 'place', node, placement: placementOf(job.current, { container, pod }, ports) })
    }
    for (const { pod: container, excluded } of plan.unplaced) {
      const job = (pendingOf.get(container) as { readonly job: JobRecord }).job.name
      unplaced.set(job, { pods: (unplaced.get(job)?.pods ?? 0) + 1, excluded })
    }
  }

  const withPlacements = new Set(input.placements.map(placed => placed.placement.job))
  const finishes: ResManAction[] = [...jobs.values()]
    .filter(job => job.state === 'destroying' && !withPlacements.has(job.name))
    .sort((a, b) => compare(a.name, b.name))
    .map(job => ({ type: 'finishJob', job: job.name }))
  return { actions: [...unplaces, ...places, ...finishes], unplaced }
}

/** How many pods a job wants now. */
function desiredPods (job: JobRecord): number {
  return job.state === 'destroying' || job.state === 'finished' ? 0 : job.replica
}

/** Why a placement of the job's `pod` must go, or undefined when the job wants it. */
function unwantedReason (job: JobRecord, pod: string): string | undefined {
  const index = podIndexOf(job.name, pod)
  if (index === undefined) return `pod ${pod} is not a pod of job ${job.name}`
  if (job.state === 'destroying') return `job ${job.name} is ${job.removing ? 'being removed' : 'stopping'}`
  if (job.state === 'finished') return `job ${job.name} is stopped`
  return index < job.replica ? undefined : `scaled down to ${job.replica}`
}

/**
 * The job's placements to make again because their shape is not the current version's (Galaxy's
 * Recreate, §5.4): those out of service (not reported running). The job's AppMaster paces the rest:
 * it tells a pod to `quit` when the update admits it (by step, interval and breakpoint), and the
 * pod, stopped, is made again here. The oldest-numbered pods go first.
 */
function replacements (job: JobRecord, chosen: ReadonlyMap<string, PlacedContainer>, reportOf: (placed: PlacedContainer) => ReportedContainer | undefined): PlacedContainer[] {
  const shape = versionShape(job.current)
  const outdated: PlacedContainer[] = []
  for (let index = 0; index < job.replica; index++) {
    const placed = chosen.get(podIdOf(job.name, index))
    if (placed === undefined || placementShape(placed.placement) === shape) continue
    const report = reportOf(placed)
    if (!(report?.state === 'running' && report.phase === 'running')) outdated.push(placed)
  }
  return outdated
}

/** The node as the scheduler sees it, holding what its kept placements hold. */
function snapshotNode (node: NodeState, chosen: ReadonlyMap<string, PlacedContainer>): SchedulerNode {
  let cpuMillicores = 0
  let memoryBytes = 0
  let diskBytes = 0
  const ports: number[] = []
  const podsPerJob = new Map<string, number>()
  for (const placed of chosen.values()) {
    if (placed.node !== node.id) continue
    const request = placementRequest(placed.placement)
    cpuMillicores += request.cpuMillicores
    memoryBytes += request.memoryBytes
    diskBytes += request.diskBytes
    ports.push(...request.ports)
    podsPerJob.set(placed.placement.job, (podsPerJob.get(placed.placement.job) ?? 0) + 1)
  }
  const { id, pool, labels, liveness, health, allocatable } = node
  return { id, pool, labels, liveness, health, allocatable, allocated: { cpuMillicores, memoryBytes, diskBytes }, ports, podsPerJob: Object.fromEntries(podsPerJob) }
}

function byPlacement (a: PlacedContainer, b: PlacedContainer): number {
  return compare(a.placement.pod, b.placement.pod) || compare(a.node, b.node) || compare(a.placement.container, b.placement.container)
}

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
