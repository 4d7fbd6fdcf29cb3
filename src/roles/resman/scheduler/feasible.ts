import type { FilterName, PendingPod, SchedulerNode, SchedulerResources } from './snapshot.js'

/** A node while a plan is being made: what the plan has added to it so far is counted in. */
export interface NodeView extends Pick<SchedulerNode, 'id' | 'pool' | 'labels' | 'liveness' | 'health' | 'allocatable'> {
  allocated: SchedulerResources
  readonly ports: Set<number>
  readonly podsPerJob: Map<string, number>
}

/** The first filter `node` fails for `pod`, in Galaxy's order, or undefined when it can take it. */
export function firstFailure (node: NodeView, pod: PendingPod, portRange: { readonly min: number, readonly max: number }): FilterName | undefined {
  if (node.liveness !== 'alive') return 'liveness'
  if (node.health !== 'healthy') return 'health'
  if (pod.pools.length > 0 && !pod.pools.includes(node.pool)) return 'pool'
  for (const key in pod.labels) if (node.labels[key] !== pod.labels[key]) return 'labels'
  if (pod.maxPerHost > 0 && (node.podsPerJob.get(pod.job) ?? 0) >= pod.maxPerHost) return 'maxPerHost'
  if (node.allocated.cpuMillicores + pod.request.cpuMillicores > node.allocatable.cpuMillicores) return 'cpu'
  if (node.allocated.memoryBytes + pod.request.memoryBytes > node.allocatable.memoryBytes) return 'memory'
  if (node.allocated.diskBytes + pod.request.diskBytes > node.allocatable.diskBytes) return 'disk'
  for (const port of pod.fixedPorts) if (node.ports.has(port)) return 'ports'
  if (pod.dynamicPorts > 0 && freePorts(node, pod, portRange).length < pod.dynamicPorts) return 'ports'
  return undefined
}

/**
 * Free ports of the node's dynamic range for `pod` (its fixed ports taken out): the first ones
 * from `start` on, wrapping around to the bottom of the range.
 */
export function freePorts (node: NodeView, pod: PendingPod, portRange: { readonly min: number, readonly max: number }, start = portRange.min): number[] {
  const chosen: number[] = []
  const span = portRange.max - portRange.min + 1
  for (let step = 0; step < span && chosen.length < pod.dynamicPorts; step++) {
    const port = portRange.min + ((start - portRange.min + step) % span)
    if (!node.ports.has(port) && !pod.fixedPorts.includes(port)) chosen.push(port)
  }
  return chosen
}
