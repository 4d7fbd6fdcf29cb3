import { checkPortNumbers, checkVolumes, type Volume } from '../../lib/container-rules.js'
import { parseContainerId, parseJobId, parsePodId, type ContainerId, type JobId, type NodeId, type PodId, type TaskId } from '../../lib/ids.js'
import { checkPodDescription, type PodDescription } from '../appworker/pod-description.js'
import type { Request } from './allocation.js'

/** Where the placements of each node live in the store: `galaxy/placements/<node>/<container>`. */
export const placementsPrefix = 'galaxy/placements/'

/** The store key of one placement. */
export function placementKey (node: NodeId, container: ContainerId): string {
  return `${placementsPrefix}${node}/${container}`
}

/** The prefix of every placement of one node. */
export function nodePlacementsPrefix (node: NodeId): string {
  return `${placementsPrefix}${node}/`
}

/** The namespaces a pod may ask for (the runtime makes them with util-linux `unshare`). */
export const placementNamespaces = ['pid', 'mount', 'uts', 'ipc'] as const

/** A directory the pod's tasks see (the runtime's, see `Volume`). */
export type PlacementVolume = Volume

/** The resource envelope of one task: its own cgroup's limits. */
export interface TaskEnvelope {
  readonly name: TaskId
  readonly cpuMillicores: number
  readonly memoryBytes: number
  /** Most processes and threads at once; the runtime's default when absent. */
  readonly pidsMax?: number | undefined
}

/**
 * One container the cluster wants on a node (written by the ResMan under `placementKey`): its
 * resource envelope, and the pod description its AppWorker is told to run. Until the job's
 * AppMaster drives pods (the next issue), the node answers the AppWorker's pulls with this
 * description; a new version of it is rebuilt in place, a new envelope makes a new container.
 */
export interface Placement {
  readonly container: ContainerId
  readonly job: JobId
  readonly pod: PodId
  /** CPU as a weight that may use idle cores, instead of a hard quota. */
  readonly cpuBurst: boolean
  readonly tasks: readonly TaskEnvelope[]
  readonly diskBytes: number
  readonly namespaces: ReadonlyArray<typeof placementNamespaces[number]>
  readonly volumes: readonly PlacementVolume[]
  readonly ports: ReadonlyArray<{ readonly name: string, readonly port: number }>
  readonly description: PodDescription
}

/** Named bounds of a placement. */
export const placementLimits = {
  maxPorts: 64,
  maxVolumes: 32,
  /** Every container needs some room to run at all: 10 millicores, 4 MiB per task. */
  minCpuMillicores: 10,
  minMemoryBytes: 4 * 1024 * 1024
} as const

/** Checks a placement; the reason names the part that is wrong, or undefined when it is fine. */
export function checkPlacement (placement: Placement): string | undefined {
  for (const id of [parseContainerId(placement.container), parseJobId(placement.job), parsePodId(placement.pod)]) {
    if (!id.ok) return id.error
  }
  if (placement.ports.length > placementLimits.maxPorts) return `at most ${placementLimits.maxPorts} ports, not ${placement.ports.length}`
  if (placement.volumes.length > placementLimits.maxVolumes) return `at most ${placementLimits.maxVolumes} volumes, not ${placement.volumes.length}`
  const portNames = new Set<string>()
  for (const port of placement.ports) {
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(port.name)) return `port name "${port.name}" must be a lower-case letter, then letters, digits or _`
    if (portNames.has(port.name)) return `port ${port.name} appears twice`
    portNames.add(port.name)
  }
  for (const kind of placement.namespaces) {
    if (!(placementNamespaces as readonly string[]).includes(kind)) return `unknown namespace "${kind}" (known: ${placementNamespaces.join(', ')})`
  }
  const layout = checkVolumes(placement.volumes) ?? checkPortNumbers(placement.ports)
  if (layout !== undefined) return layout
  if (!isCount(placement.diskBytes)) return 'disk must be a whole number of bytes'
  const described = new Set(placement.description.tasks.map(task => task.name))
  const enveloped = new Set<string>()
  for (const task of placement.tasks) {
    if (!described.has(task.name)) return `task ${task.name} has an envelope but no description`
    if (enveloped.has(task.name)) return `task ${task.name} has two envelopes`
    enveloped.add(task.name)
    if (!Number.isInteger(task.cpuMillicores) || task.cpuMillicores < placementLimits.minCpuMillicores) return `task ${task.name}: cpu must be at least ${placementLimits.minCpuMillicores} millicores`
    if (!Number.isInteger(task.memoryBytes) || task.memoryBytes < placementLimits.minMemoryBytes) return `task ${task.name}: memory must be at least ${placementLimits.minMemoryBytes / 1024 / 1024} MiB`
    if (task.pidsMax !== undefined && !(Number.isInteger(task.pidsMax) && task.pidsMax >= 1)) return `task ${task.name}: the pids limit must be at least 1`
  }
  for (const name of described) if (!enveloped.has(name)) return `task ${name} has no resource envelope`
  return checkPodDescription(placement.description, [...portNames])
}

/** What the container holds on its node. */
export function placementRequest (placement: Placement): Request {
  return {
    cpuMillicores: placement.tasks.reduce((sum, task) => sum + task.cpuMillicores, 0),
    memoryBytes: placement.tasks.reduce((sum, task) => sum + task.memoryBytes, 0),
    diskBytes: placement.diskBytes,
    ports: placement.ports.map(port => port.port)
  }
}

/**
 * A string that changes exactly when the container must be made again: its cgroups, namespaces,
 * volumes or ports. The pod description is not part of it: a new version is rebuilt in place.
 */
export function placementEnvelope (placement: Placement): string {
  const { cpuBurst, tasks, diskBytes, namespaces, volumes, ports } = placement
  return JSON.stringify({ cpuBurst, tasks, diskBytes, namespaces, volumes, ports })
}

function isCount (value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0
}
