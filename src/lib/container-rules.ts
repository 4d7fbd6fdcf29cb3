/**
 * The rules a container's volumes and reserved ports meet, shared by the agent (which checks a
 * placement before it counts it) and the runtime (which checks a spec before it makes anything).
 */

/**
 * A directory a container's tasks see: on the node's disk, in memory with a size, or a host path;
 * the same in a placement (the agent) and a container spec (the runtime).
 */
export type Volume =
  | { readonly name: string, readonly kind: 'disk' }
  | { readonly name: string, readonly kind: 'tmpfs', readonly sizeBytes: number }
  | { readonly name: string, readonly kind: 'host', readonly hostPath: string, readonly readOnly: boolean }

/** Why the volumes are wrong, or undefined when they are fine. */
export function checkVolumes (volumes: readonly Volume[]): string | undefined {
  const names = new Set<string>()
  for (const volume of volumes) {
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(volume.name)) return `volume name "${volume.name}" must use lower-case letters, digits and inner dashes`
    if (names.has(volume.name)) return `volume ${volume.name} appears twice`
    names.add(volume.name)
    if (volume.kind === 'tmpfs' && !(Number.isSafeInteger(volume.sizeBytes) && volume.sizeBytes > 0)) return `tmpfs volume ${volume.name} needs a size above 0`
    if (volume.kind === 'host' && !volume.hostPath.startsWith('/')) return `host volume ${volume.name} needs an absolute path, not "${volume.hostPath}"`
  }
  return undefined
}

/** Why the reserved port numbers are wrong, or undefined when they are fine. */
export function checkPortNumbers (ports: ReadonlyArray<{ readonly name: string, readonly port: number }>): string | undefined {
  const numbers = new Set<number>()
  for (const port of ports) {
    if (!Number.isInteger(port.port) || port.port < 1 || port.port > 65_535) return `port ${port.name} must be between 1 and 65535`
    if (numbers.has(port.port)) return `port ${port.port} is reserved twice`
    numbers.add(port.port)
  }
  return undefined
}
