import { release, tmpdir } from 'node:os'
import type { HostPort } from '../../lib/host-port.js'
import { probeCgroups, type CgroupReport } from './cgroups.js'
import { probeDisk, type DiskReport } from './disk.js'
import { probeNamespaces, type NamespaceProbe } from './namespaces.js'
import { probePort, type PortProbe } from './ports.js'
import { probeStorage, type StorageProbe } from './storage.js'

/**
 * What a host offers galaxy: the shape of `galaxy.HostReport` in `proto/galaxy/host.proto`, with
 * every field present. `galaxy doctor` prints it; an agent reports it.
 */
export interface HostReport {
  readonly os: string
  readonly arch: string
  readonly kernel: string
  readonly uid: number
  readonly root: boolean
  readonly cgroups: CgroupReport
  readonly namespaces: NamespaceProbe[]
  readonly disk: DiskReport
  readonly ports: PortProbe[]
  readonly storage: StorageProbe
}

/** Where `galaxy up` would keep its data and listen: the things a host check looks at. */
export interface HostProbeTarget {
  readonly dataDir: string
  readonly listen: HostPort
  readonly api: HostPort
}

/** Probes everything in a `HostReport` at once; probes that fail say why in their `error`. */
export async function probeHost (target: HostProbeTarget): Promise<HostReport> {
  const uid = process.getuid?.() ?? -1
  const disk = await probeDisk(target.dataDir)
  // Ports one after the other, so that the two probes never hold a port the other one checks.
  const listen = await probePort('listen', target.listen)
  const api = await probePort('api', target.api)
  const [cgroups, namespaces, storage] = await Promise.all([
    probeCgroups(),
    probeNamespaces(),
    // Into the data dir when it is usable; otherwise its nearest existing ancestor is not ours to
    // litter, and the system temp dir still proves the database and its addon load.
    probeStorage(disk.exists && disk.writable ? disk.dataDir : tmpdir())
  ])
  return {
    os: process.platform,
    arch: process.arch,
    kernel: release(),
    uid,
    root: uid === 0,
    cgroups,
    namespaces,
    disk,
    ports: [listen, api],
    storage
  }
}
