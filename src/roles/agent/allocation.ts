/** Resources a container holds on its node, or a node offers. */
export interface Resources {
  readonly cpuMillicores: number
  readonly memoryBytes: number
  readonly diskBytes: number
}

/** What an agent can hand out: the node's capacity less a reserve for the system. */
export interface Capacity {
  readonly total: Resources
  readonly reserved: Resources
}

/** A request for room on a node: resources and fixed ports. */
export interface Request extends Resources {
  readonly ports: readonly number[]
}

/** Whether a request fits; when not, the first resource that is short, said the way `job status` shows it. */
export type Fit = { readonly ok: true } | { readonly ok: false, readonly reason: string }

const zero: Resources = { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0 }

/** The sum of what `held` holds. */
export function allocated (held: readonly Request[]): Resources {
  return held.reduce((sum, request) => ({
    cpuMillicores: sum.cpuMillicores + request.cpuMillicores,
    memoryBytes: sum.memoryBytes + request.memoryBytes,
    diskBytes: sum.diskBytes + request.diskBytes
  }), zero)
}

/** What is left for containers: capacity less the reserve less what is held (never below zero). */
export function free (capacity: Capacity, held: readonly Request[]): Resources {
  const used = allocated(held)
  const left = (key: keyof Resources): number => Math.max(0, capacity.total[key] - capacity.reserved[key] - used[key])
  return { cpuMillicores: left('cpuMillicores'), memoryBytes: left('memoryBytes'), diskBytes: left('diskBytes') }
}

/** Checks a request against what is free and the ports already taken, in Galaxy's order: cpu, memory, disk, ports. */
export function fits (capacity: Capacity, held: readonly Request[], request: Request): Fit {
  const left = free(capacity, held)
  if (request.cpuMillicores > left.cpuMillicores) return { ok: false, reason: `cpu: needs ${request.cpuMillicores}m, ${left.cpuMillicores}m free` }
  if (request.memoryBytes > left.memoryBytes) return { ok: false, reason: `memory: needs ${mib(request.memoryBytes)}, ${mib(left.memoryBytes)} free` }
  if (request.diskBytes > left.diskBytes) return { ok: false, reason: `disk: needs ${mib(request.diskBytes)}, ${mib(left.diskBytes)} free` }
  const taken = new Set(held.flatMap(other => other.ports))
  const clash = request.ports.find(port => taken.has(port))
  if (clash !== undefined) return { ok: false, reason: `port ${clash} is held by another container` }
  return { ok: true }
}

function mib (bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MiB`
}
