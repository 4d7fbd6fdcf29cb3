import type { ContainerId, JobId, PodId, TaskId } from '../../lib/ids.js'
import type { Placement } from '../agent/placement.js'
import type { PodDescription } from '../appworker/pod-description.js'
import type { PendingPod } from '../resman/scheduler/snapshot.js'
import type { JobVersion } from './job-record.js'
import { jobTypes, restartMode, type JobSpec } from './job-spec.js'

/**
 * What goes into a job's two version strings (the node hashes them): the whole spec but its
 * replica and deploy policy (`version`), and of that what the pods run, without data packages
 * (`podVersion`: a change of data alone reloads pods, anything else rebuilds them). Keys are
 * sorted, so the same spec always gives the same text.
 */
export function versionInputs (spec: JobSpec): { readonly version: string, readonly podVersion: string, readonly dataVersion: string } {
  const { replica: _replica, deploy: _deploy, ...rest } = spec
  const program = { ...rest, pod: { ...rest.pod, tasks: rest.pod.tasks.map(({ data: _data, ...task }) => task) } }
  const data = spec.pod.tasks.filter(task => task.data !== undefined).map(task => `${task.name}=${task.data?.version ?? ''}`).join(',')
  return { version: canonicalJson(rest), podVersion: canonicalJson(program), dataVersion: data }
}

/** The pod description of a job version: what its AppMaster tells each pod to run. */
export function podDescriptionOf (version: JobVersion): PodDescription {
  const spec = version.spec
  const mode = restartMode(spec)
  return {
    version: version.podVersion,
    dataVersion: version.dataVersion,
    tasks: spec.pod.tasks.map(task => ({
      name: task.name as TaskId,
      package: task.package === undefined ? undefined : { url: task.package.url, sha256: task.package.sha256 },
      dataPackage: task.data === undefined ? undefined : { url: task.data.url, sha256: task.data.sha256 },
      deployCommand: task.deploy,
      startCommand: task.start,
      stopCommand: task.stop,
      reloadCommand: task.reload,
      stopTimeoutMs: spec.stopTimeout,
      restart: { mode, attempts: spec.restart.attempts, windowMs: spec.restart.window, initialDelayMs: spec.restart.delay, maxDelayMs: Math.max(spec.restart.delay, spec.restart.maxDelay) },
      health: task.health === undefined
        ? undefined
        : { port: task.health.port, command: task.health.command, intervalMs: task.health.interval, timeoutMs: task.health.timeout, failures: task.health.failures, graceMs: task.health.grace },
      env: task.env
    }))
  }
}

/** Every port of a pod in spec order, with its fixed number or `dynamic`. */
function specPorts (spec: JobSpec): ReadonlyArray<{ readonly name: string, readonly port: number | 'dynamic' }> {
  return spec.pod.tasks.flatMap(task => task.ports)
}

/** What a pod of the job needs from a node, for the scheduler. */
export function pendingPodOf (spec: JobSpec, container: ContainerId): PendingPod {
  const ports = specPorts(spec)
  return {
    id: container,
    job: spec.name as JobId,
    priority: jobTypes[spec.type],
    pools: spec.placement.pools,
    labels: spec.placement.labels,
    maxPerHost: spec.deploy.maxPerHost,
    request: {
      cpuMillicores: spec.pod.tasks.reduce((sum, task) => sum + task.cpu, 0),
      memoryBytes: spec.pod.tasks.reduce((sum, task) => sum + task.memory, 0),
      diskBytes: diskBytesOf(spec)
    },
    fixedPorts: ports.flatMap(port => port.port === 'dynamic' ? [] : [port.port]),
    dynamicPorts: ports.filter(port => port.port === 'dynamic').length,
    strategy: spec.placement.strategy
  }
}

function diskBytesOf (spec: JobSpec): number {
  return spec.pod.volumes.reduce((sum, volume) => sum + (volume.medium === 'disk' ? volume.size : 0), 0)
}

/**
 * The placement of one pod of a job version on a node: its resource envelope from the spec, the
 * dynamic ports the scheduler chose (in spec order), and the version's pod description.
 */
export function placementOf (version: JobVersion, ids: { readonly container: ContainerId, readonly pod: PodId }, dynamicPorts: readonly number[]): Placement {
  const spec = version.spec
  let next = 0
  const ports = specPorts(spec).map(port => ({ name: port.name, port: port.port === 'dynamic' ? dynamicPorts[next++] ?? 0 : port.port }))
  return {
    container: ids.container,
    job: spec.name as JobId,
    pod: ids.pod,
    cpuBurst: spec.pod.tasks.some(task => task.burst),
    tasks: spec.pod.tasks.map(task => ({ name: task.name as TaskId, cpuMillicores: task.cpu, memoryBytes: task.memory })),
    diskBytes: diskBytesOf(spec),
    namespaces: [...spec.pod.isolate],
    volumes: spec.pod.volumes.map(volume => volume.medium === 'tmpfs' ? { name: volume.name, kind: 'tmpfs' as const, sizeBytes: volume.size } : { name: volume.name, kind: 'disk' as const }),
    ports,
    description: podDescriptionOf(version)
  }
}

/**
 * A string that changes exactly when a pod of the job must get a new container: its cgroups,
 * namespaces, volumes or the names of its ports (their dynamic numbers differ from pod to pod).
 */
export function placementShape (placement: Placement): string {
  const { cpuBurst, tasks, diskBytes, namespaces, volumes, ports } = placement
  return JSON.stringify({ cpuBurst, tasks, diskBytes, namespaces, volumes, ports: ports.map(port => port.name) })
}

/** The shape of the version's placements (see `placementShape`): a pod whose container has another must get a new one. */
export function versionShape (version: JobVersion): string {
  return placementShape(placementOf(version, { container: 'shape' as ContainerId, pod: 'shape' as PodId }, []))
}

/** JSON with object keys sorted at every level. */
function canonicalJson (value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item
    return Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
  })
}
