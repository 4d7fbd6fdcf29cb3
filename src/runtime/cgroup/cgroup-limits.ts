import type { ControllerPlacement, GalaxyController } from '../host/cgroup-layout.js'

/** What a cgroup may use. Absent fields leave the kernel's default (no limit). */
export interface CgroupLimits {
  /** CPU in thousandths of a core: a hard quota, or with `cpuBurst` a relative weight that may use idle cores. */
  readonly cpuMillicores?: number
  readonly cpuBurst?: boolean
  /** Memory limit; swap is disabled for the cgroup so that the limit is real. */
  readonly memoryBytes?: number
  /** Most processes and threads at once. */
  readonly pidsMax?: number
}

/** One value to write into one control file of a cgroup. */
export interface CgroupWrite {
  readonly controller: GalaxyController
  readonly file: string
  readonly value: string
  /** The file may be missing on some kernels (no swap accounting): skip it then, do not fail. */
  readonly optional: boolean
}

/** One directory of a cgroup: a hierarchy's root joined with the cgroup's path, and the controllers it serves. */
export interface CgroupDir {
  readonly dir: string
  readonly version: 'v1' | 'v2'
  readonly controllers: readonly GalaxyController[]
}

/** The CFS period galaxy uses: 100 ms, the kernel's default. */
export const cpuPeriodUs = 100_000
/** The smallest quota the kernel accepts. */
const minCpuQuotaUs = 1_000

/**
 * The directories a cgroup at `path` (relative, like `galaxy/c1/web`) has on this host: one per
 * hierarchy that holds a controller galaxy uses (a v2 tree holds all of them).
 */
export function cgroupDirs (placements: readonly ControllerPlacement[], path: string): CgroupDir[] {
  const byRoot = new Map<string, { version: 'v1' | 'v2', controllers: GalaxyController[] }>()
  for (const placement of placements) {
    if (placement.version === 'missing') continue
    const entry = byRoot.get(placement.root) ?? { version: placement.version, controllers: [] }
    entry.controllers.push(placement.name)
    byRoot.set(placement.root, entry)
  }
  return [...byRoot].map(([root, entry]) => ({ dir: `${root}/${path}`, version: entry.version, controllers: entry.controllers }))
}

/** What to write, per cgroup version, to put `limits` in force. Order matters on v1 (memory before memsw). */
export function limitWrites (version: 'v1' | 'v2', limits: CgroupLimits): CgroupWrite[] {
  const writes: CgroupWrite[] = []
  const write = (controller: GalaxyController, file: string, value: string | number, optional = false): void => {
    writes.push({ controller, file, value: String(value), optional })
  }
  if (limits.cpuMillicores !== undefined) {
    if (limits.cpuBurst === true) {
      const shares = cpuShares(limits.cpuMillicores)
      if (version === 'v2') write('cpu', 'cpu.weight', cpuWeight(shares))
      else write('cpu', 'cpu.shares', shares)
    } else {
      const quotaUs = Math.max(minCpuQuotaUs, Math.round(limits.cpuMillicores * cpuPeriodUs / 1000))
      if (version === 'v2') {
        write('cpu', 'cpu.max', `${quotaUs} ${cpuPeriodUs}`)
      } else {
        write('cpu', 'cpu.cfs_period_us', cpuPeriodUs)
        write('cpu', 'cpu.cfs_quota_us', quotaUs)
      }
    }
  }
  if (limits.memoryBytes !== undefined) {
    if (version === 'v2') {
      write('memory', 'memory.max', limits.memoryBytes)
      write('memory', 'memory.swap.max', 0, true)
    } else {
      write('memory', 'memory.swappiness', 0, true)
      write('memory', 'memory.limit_in_bytes', limits.memoryBytes)
      // memory+swap equal to memory: no swap at all (the file exists only with swap accounting).
      write('memory', 'memory.memsw.limit_in_bytes', limits.memoryBytes, true)
    }
  }
  if (limits.pidsMax !== undefined) write('pids', 'pids.max', limits.pidsMax)
  return writes
}

/** v1 shares for a number of millicores, as Kubernetes computes them (1 core = 1024, at least 2). */
export function cpuShares (millicores: number): number {
  return Math.max(2, Math.min(262_144, Math.round(millicores * 1024 / 1000)))
}

/** v2 weight (1–10000) for v1 shares (2–262144), by the linear map runc uses (integer arithmetic). */
export function cpuWeight (shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262_142)
}

/** The v2 controllers a parent must enable in `cgroup.subtree_control` for its children to use them. */
export const v2SubtreeControllers = ['cpu', 'memory', 'pids'] as const
