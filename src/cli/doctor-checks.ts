import type { HostReport } from '../runtime/host/host-report.js'
import { formatBytes } from './output.js'

/** pass: ready; warn: galaxy runs, with less (degraded isolation); fail: `galaxy up` would not work. */
export type CheckStatus = 'pass' | 'warn' | 'fail'

/** One line of `galaxy doctor`. */
export interface Check {
  readonly id: string
  readonly status: CheckStatus
  readonly summary: string
  /** What to do about it; empty when the check passed. */
  readonly fix: string
}

/** Below this much free space in the data dir `galaxy up` is refused by doctor. */
export const minimumFreeBytes = 1024 ** 3

/**
 * Turns what the host offers into verdicts an operator acts on. Anything that only weakens
 * isolation is a warning, because galaxy still runs pods (and says `isolation: degraded`);
 * anything that stops a node from starting is a failure.
 */
export function evaluateHost (host: HostReport): Check[] {
  return [
    platformCheck(host),
    userCheck(host),
    cgroupLayoutCheck(host),
    ...host.cgroups.controllers.map(controller => controllerCheck(host, controller)),
    ...host.namespaces.map(probe => probe.ok
      ? pass(`namespace ${probe.kind}`, 'can be created')
      : warn(`namespace ${probe.kind}`, `cannot be created: ${probe.error}`,
        host.root ? 'enable the namespace in the kernel (CONFIG_*_NS) or allow unshare in the host sandbox' : 'run galaxy as root')),
    diskCheck(host),
    ...host.ports.map(port => portCheck(port)),
    storageCheck(host)
  ]
}

function platformCheck (host: HostReport): Check {
  const summary = `${host.os} ${host.arch}, kernel ${host.kernel}`
  if (host.os !== 'linux') return fail('platform', summary, 'galaxy nodes run on Linux only')
  if (host.arch !== 'x64' && host.arch !== 'arm64') return fail('platform', summary, 'galaxy is built for x64 and arm64')
  return pass('platform', summary)
}

function userCheck (host: HostReport): Check {
  if (host.root) return pass('user', 'root: cgroups and namespaces are available to pods')
  return warn('user', `uid ${host.uid}: pods run as plain process groups (isolation: degraded)`, 'run galaxy as root for cgroup limits and namespaces')
}

function cgroupLayoutCheck (host: HostReport): Check {
  const { unifiedMount, unifiedControllers, v1Hierarchies } = host.cgroups
  const v1 = v1Hierarchies.flatMap(hierarchy => hierarchy.controllers)
  const parts: string[] = []
  if (v1.length > 0) parts.push(`v1 hierarchies: ${v1.join(', ')}`)
  if (unifiedMount !== '') parts.push(`v2 at ${unifiedMount} (controllers: ${unifiedControllers.join(', ') || 'none'})`)
  const mode = unifiedMount !== '' && v1.length === 0 ? 'v2 unified' : unifiedMount !== '' ? 'hybrid' : v1.length > 0 ? 'v1' : 'none'
  if (mode === 'none') return warn('cgroups', 'no cgroup filesystem is mounted', 'mount cgroup2 on /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup)')
  return pass('cgroups', `${mode}: ${parts.join('; ')}`)
}

function controllerCheck (host: HostReport, controller: HostReport['cgroups']['controllers'][number]): Check {
  const id = `cgroup ${controller.name}`
  if (controller.version === 'missing') {
    return warn(id, 'not available: pods get no such limit', `enable the ${controller.name} controller in the kernel and mount it`)
  }
  const where = `${controller.version} at ${controller.path}`
  if (controller.writable) return pass(id, `${where}, writable`)
  return warn(id, `${where}, not writable: ${controller.error}`, host.root ? `remount ${controller.path} read-write` : 'run galaxy as root')
}

function diskCheck (host: HostReport): Check {
  const { disk } = host
  const id = 'data dir'
  const where = disk.exists ? disk.dataDir : `${disk.dataDir} (not created yet; checked ${disk.probedPath})`
  if (!disk.writable) {
    return fail(id, `${where}: ${disk.error}`, host.root ? 'choose another directory with --data' : 'choose a directory you own with --data, or run as root')
  }
  const free = `${formatBytes(disk.freeBytes)} free of ${formatBytes(disk.totalBytes)}`
  if (disk.freeBytes < minimumFreeBytes) return fail(id, `${where}: only ${free}`, `free at least ${formatBytes(minimumFreeBytes)} or choose another directory with --data`)
  return pass(id, `${where}: ${free}`)
}

function portCheck (port: HostReport['ports'][number]): Check {
  const id = `port ${port.purpose}`
  const flag = port.purpose === 'api' ? '--api' : '--listen'
  const what = `${port.host}:${port.port} (${port.purpose === 'api' ? 'HTTP API' : 'node-to-node'})`
  if (port.state === 'free') return pass(id, `${what} is free`)
  if (port.state === 'in-use') return fail(id, `${what} is in use`, `stop the process listening there (ss -ltnp 'sport = :${port.port}') or pass ${flag} HOST:PORT`)
  return fail(id, `${what} cannot be bound: ${port.error}`, `pass ${flag} with an address of this host`)
}

function storageCheck (host: HostReport): Check {
  const { storage } = host
  if (storage.ok) return pass('storage', `LevelDB opens, syncs and reads back (addon: ${storage.addon})`)
  const fix = storage.addonFailed
    ? 'set GALAXY_NATIVE_DIR to a writable directory on a filesystem mounted without noexec'
    : 'make the data dir a writable directory on a local filesystem, or choose another with --data'
  return fail('storage', `LevelDB does not work: ${storage.error}`, fix)
}

function pass (id: string, summary: string): Check {
  return { id, status: 'pass', summary, fix: '' }
}

function warn (id: string, summary: string, fix: string): Check {
  return { id, status: 'warn', summary, fix }
}

function fail (id: string, summary: string, fix: string): Check {
  return { id, status: 'fail', summary, fix }
}
