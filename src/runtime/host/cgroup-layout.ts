import type { MountEntry } from './mountinfo.js'

/** A cgroup v1 hierarchy and the controllers bound to it. */
export interface CgroupHierarchy {
  readonly mountPoint: string
  readonly controllers: string[]
}

/** How cgroups are mounted on a host: a v2 tree, v1 hierarchies, or both (hybrid). */
export interface CgroupMounts {
  /** The cgroup2 mount point, `''` when there is none. */
  readonly unifiedMount: string
  readonly v1Hierarchies: CgroupHierarchy[]
}

/** Where a controller galaxy needs is found. */
export interface ControllerPlacement {
  readonly name: GalaxyController
  readonly version: 'v2' | 'v1' | 'missing'
  /** The directory a probe cgroup is created under; `''` when missing. */
  readonly root: string
}

/**
 * The controllers a container needs: cpu for quota or shares, cpuacct for usage, memory for the
 * limit and OOM kills, pids for the process limit, freezer to kill every process without escape.
 * On v2, cpuacct and freezer are part of the core (`cpu.stat`, `cgroup.freeze`).
 */
export const galaxyControllers = ['cpu', 'cpuacct', 'memory', 'pids', 'freezer'] as const
export type GalaxyController = typeof galaxyControllers[number]

const coreOnV2: ReadonlySet<string> = new Set(['cpuacct', 'freezer'])

/** Controller names the kernel accepts as cgroup v1 mount options. */
const v1ControllerNames: ReadonlySet<string> = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'blkio', 'perf_event',
  'net_prio', 'hugetlb', 'pids', 'rdma', 'misc'
])

/** Finds the cgroup2 mount and the v1 hierarchies among the host's mounts. */
export function findCgroupMounts (mounts: readonly MountEntry[]): CgroupMounts {
  const unified = mounts.find(mount => mount.fsType === 'cgroup2')
  const v1Hierarchies = mounts
    .filter(mount => mount.fsType === 'cgroup')
    .map(mount => ({ mountPoint: mount.mountPoint, controllers: mount.superOptions.filter(option => v1ControllerNames.has(option)) }))
  return { unifiedMount: unified?.mountPoint ?? '', v1Hierarchies }
}

/**
 * Decides, per controller, which hierarchy galaxy uses: v2 when the unified tree offers it (a
 * controller can be bound to only one version at a time), else the v1 hierarchy that has it.
 */
export function placeControllers (mounts: CgroupMounts, unifiedControllers: readonly string[]): ControllerPlacement[] {
  const offersV2 = mounts.unifiedMount !== '' && unifiedControllers.includes('cpu')
  return galaxyControllers.map(name => {
    if (mounts.unifiedMount !== '' && (unifiedControllers.includes(name) || (offersV2 && coreOnV2.has(name)))) {
      return { name, version: 'v2', root: mounts.unifiedMount }
    }
    const hierarchy = mounts.v1Hierarchies.find(candidate => candidate.controllers.includes(name))
    if (hierarchy !== undefined) return { name, version: 'v1', root: hierarchy.mountPoint }
    return { name, version: 'missing', root: '' }
  })
}
