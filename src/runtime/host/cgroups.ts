import { mkdir, readFile, rmdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describeError } from '../../lib/errors.js'
import { findCgroupMounts, placeControllers, type CgroupHierarchy } from './cgroup-layout.js'
import { parseMountinfo } from './mountinfo.js'

/** One controller galaxy uses, where it lives, and whether galaxy can make cgroups there. */
export interface CgroupControllerReport {
  readonly name: string
  readonly version: 'v2' | 'v1' | 'missing'
  readonly path: string
  readonly writable: boolean
  readonly error: string
}

/** The host's cgroup mounts and, per controller galaxy needs, whether it is usable. */
export interface CgroupReport {
  readonly unifiedMount: string
  readonly unifiedControllers: string[]
  readonly v1Hierarchies: CgroupHierarchy[]
  readonly controllers: CgroupControllerReport[]
}

/**
 * Reads the cgroup mounts from `/proc/self/mountinfo` and proves each needed controller writable
 * by creating and removing a probe cgroup at its hierarchy root.
 */
export async function probeCgroups (): Promise<CgroupReport> {
  const mounts = findCgroupMounts(parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')))
  const unifiedControllers = mounts.unifiedMount === ''
    ? []
    : (await readFile(join(mounts.unifiedMount, 'cgroup.controllers'), 'utf8').catch(() => '')).split(/\s+/).filter(Boolean)
  const placements = placeControllers(mounts, unifiedControllers)
  const probes = new Map<string, Promise<string>>()
  const controllers = await Promise.all(placements.map(async placement => {
    if (placement.version === 'missing') {
      return { ...placement, path: '', writable: false, error: 'no cgroup hierarchy offers it' }
    }
    // Controllers that share a hierarchy (cpu,cpuacct on v1; all of v2) share one probe.
    const probe = probes.get(placement.root) ?? probeWritable(placement.root)
    probes.set(placement.root, probe)
    const error = await probe
    return { name: placement.name, version: placement.version, path: placement.root, writable: error === '', error }
  }))
  return { unifiedMount: mounts.unifiedMount, unifiedControllers, v1Hierarchies: mounts.v1Hierarchies, controllers }
}

async function probeWritable (root: string): Promise<string> {
  const probe = join(root, `galaxy-probe-${process.pid}`)
  try {
    await mkdir(probe)
    await rmdir(probe)
    return ''
  } catch (error) {
    return describeError(error)
  }
}
