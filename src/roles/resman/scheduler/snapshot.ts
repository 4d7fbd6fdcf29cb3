import type { ContainerId, JobId, NodeId } from '../../../lib/ids.js'

/** Cpu, memory and disk, as the scheduler counts them. */
export interface SchedulerResources {
  readonly cpuMillicores: number
  readonly memoryBytes: number
  readonly diskBytes: number
}

/** A node as the ResMan sees it when it schedules: from the registry and the agent's last report. */
export interface SchedulerNode {
  readonly id: NodeId
  readonly pool: string
  readonly labels: Readonly<Record<string, string>>
  /** Gossip liveness. */
  readonly liveness: 'alive' | 'suspect' | 'dead'
  /** The agent's health; an `unhealthy` node takes no new pod. */
  readonly health: 'healthy' | 'unhealthy'
  /** What the node may hand out: its capacity less its reserve. */
  readonly allocatable: SchedulerResources
  /** What the pods on it (placed or running) hold. */
  readonly allocated: SchedulerResources
  /** Ports held on it. */
  readonly ports: readonly number[]
  /** Pods on it per job, for `maxPerHost`. */
  readonly podsPerJob: Readonly<Record<string, number>>
}

/** A pod waiting for a node. */
export interface PendingPod {
  readonly id: ContainerId
  readonly job: JobId
  /** Lower is more important (Galaxy's job types: monitor 0, service 100, batch 200, best effort 300). */
  readonly priority: number
  /** Pools it may go to; empty: any. */
  readonly pools: readonly string[]
  /** Labels a node must have, with these values. */
  readonly labels: Readonly<Record<string, string>>
  /** The most pods of its job on one node; 0: no limit. */
  readonly maxPerHost: number
  readonly request: SchedulerResources
  /** Ports it needs exactly. */
  readonly fixedPorts: readonly number[]
  /** How many ports it needs, any free ones. */
  readonly dynamicPorts: number
  /** `spread`: the emptiest node and the fewest pods of its job; `binpack`: the fullest node that fits. */
  readonly strategy: 'spread' | 'binpack'
}

/** Everything `schedule` reads. */
export interface SchedulerSnapshot {
  readonly nodes: readonly SchedulerNode[]
}

/** The filters a node passes, in Galaxy's order; the first a node fails is what excluded it. */
export const filterNames = ['liveness', 'health', 'pool', 'labels', 'maxPerHost', 'cpu', 'memory', 'disk', 'ports'] as const
export type FilterName = typeof filterNames[number]

/** One decision of a plan. */
export interface PlannedPod {
  readonly pod: ContainerId
  readonly node: NodeId
  /** The dynamic ports chosen for it, in order. */
  readonly ports: readonly number[]
}

/** A pod no node can take, and, per filter, how many nodes it excluded. */
export interface UnplacedPod {
  readonly pod: ContainerId
  readonly excluded: Readonly<Partial<Record<FilterName, number>>>
}

/** What `schedule` decided: every pending pod is in exactly one of the two lists. */
export interface Plan {
  readonly placed: readonly PlannedPod[]
  readonly unplaced: readonly UnplacedPod[]
}
