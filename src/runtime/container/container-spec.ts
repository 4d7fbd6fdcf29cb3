import { checkPortNumbers, checkVolumes, type Volume } from '../../lib/container-rules.js'
import { parseContainerId, parseTaskId, type ContainerId, type TaskId } from '../../lib/ids.js'
import type { CgroupLimits } from '../cgroup/cgroup-limits.js'
import type { NamespaceKind } from '../host/namespaces.js'

/** A directory a container's tasks see (see `Volume`). */
export type VolumeSpec = Volume

/** What a container is made of; the agent derives it from a placement. */
export interface ContainerSpec {
  readonly id: ContainerId
  /** One cgroup per task, each with its own limits. */
  readonly tasks: ReadonlyArray<{ readonly name: TaskId, readonly limits: CgroupLimits }>
  /** Limits of the container's root process (the AppWorker), in a cgroup of its own. */
  readonly rootLimits: CgroupLimits
  readonly namespaces: readonly NamespaceKind[]
  readonly volumes: readonly VolumeSpec[]
  /** Ports reserved for the tasks (`GALAXY_PORT_<NAME>`); each must be free when the container is made. */
  readonly ports: ReadonlyArray<{ readonly name: string, readonly port: number }>
}

/** Where a container's parts are. */
export interface ContainerPaths {
  readonly root: string
  readonly workspace: string
  readonly volumes: string
  readonly logs: string
  readonly state: string
}

/** The directory tree of container `id` under the agent's containers dir. */
export function containerPaths (containersDir: string, id: ContainerId): ContainerPaths {
  const root = `${containersDir}/${id}`
  return { root, workspace: `${root}/workspace`, volumes: `${root}/volumes`, logs: `${root}/logs`, state: `${root}/state` }
}

/** The file a task's standard output or error is appended to. */
export function taskLogPath (paths: ContainerPaths, task: TaskId, stream: 'stdout' | 'stderr'): string {
  return `${paths.logs}/${task}.${stream === 'stdout' ? 'out' : 'err'}.log`
}

/** The leaf cgroups of a container: its root process, or one of its tasks. */
export type CgroupLeaf = { readonly kind: 'root' } | { readonly kind: 'task', readonly task: TaskId }

/**
 * Cgroup paths, relative to each hierarchy: `<parent>/<id>` holds a `root` leaf and `task-<name>`
 * leaves. The parent (`galaxy` by default) is the runtime's; nodes sharing a host use their own.
 */
export function containerCgroupPath (parent: string, id: ContainerId, leaf?: CgroupLeaf): string {
  if (leaf === undefined) return `${parent}/${id}`
  return leaf.kind === 'root' ? `${parent}/${id}/root` : `${parent}/${id}/task-${leaf.task}`
}

/** Checks a spec before anything is made; the reason names the part that is wrong. */
export function checkContainerSpec (spec: ContainerSpec): string | undefined {
  const id = parseContainerId(spec.id)
  if (!id.ok) return id.error
  const names = new Set<string>()
  for (const task of spec.tasks) {
    const name = parseTaskId(task.name)
    if (!name.ok) return name.error
    if (names.has(task.name)) return `task ${task.name} appears twice`
    names.add(task.name)
  }
  return checkVolumes(spec.volumes) ?? checkPortNumbers(spec.ports)
}
