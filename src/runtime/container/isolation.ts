import type { ControllerPlacement, GalaxyController } from '../host/cgroup-layout.js'
import { probeCgroups } from '../host/cgroups.js'
import { probeNamespaces, type NamespaceKind } from '../host/namespaces.js'

/**
 * How well this host can confine containers. `full`: root, and every controller galaxy needs is
 * writable (on v2, v1 or a mix). `degraded`: pods run as plain process groups with an address
 * space limit; every report says so, with the reasons.
 */
export interface Isolation {
  readonly level: 'full' | 'degraded'
  /** Where each controller lives; empty when degraded. */
  readonly placements: readonly ControllerPlacement[]
  /** The namespaces that can be made here. */
  readonly namespaces: readonly NamespaceKind[]
  readonly reasons: readonly string[]
}

/** Probes the host (root, cgroup mounts, namespaces) once, when the runtime starts. */
export async function detectIsolation (): Promise<Isolation> {
  const reasons: string[] = []
  const isRoot = process.getuid?.() === 0
  if (!isRoot) reasons.push('not running as root')
  const cgroups = await probeCgroups()
  for (const controller of cgroups.controllers) {
    // Every controller galaxy uses is needed: without one, a container is not a real envelope.
    if (!controller.writable) {
      reasons.push(`cgroup controller ${controller.name}: ${controller.error}`)
    }
  }
  const namespaces = isRoot ? (await probeNamespaces()).filter(probe => probe.ok).map(probe => probe.kind) : []
  if (reasons.length > 0) return { level: 'degraded', placements: [], namespaces, reasons }
  const placements = cgroups.controllers.map(controller => ({ name: controller.name as GalaxyController, version: controller.version, root: controller.path }))
  return { level: 'full', placements, namespaces, reasons }
}
