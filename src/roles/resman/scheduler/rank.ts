import type { NodeView } from './feasible.js'
import type { PendingPod } from './snapshot.js'

/**
 * How good a node is for a pod, higher is better. `binpack`: the fuller the node would be (cpu and
 * memory, the scarcer counting most), so that whole nodes stay free. `spread`: the emptier it
 * would be, less a penalty for every pod of the same job already there.
 */
export function score (node: NodeView, pod: PendingPod): number {
  const cpu = (node.allocated.cpuMillicores + pod.request.cpuMillicores) / Math.max(1, node.allocatable.cpuMillicores)
  const memory = (node.allocated.memoryBytes + pod.request.memoryBytes) / Math.max(1, node.allocatable.memoryBytes)
  const fullness = Math.max(cpu, memory)
  if (pod.strategy === 'binpack') return fullness
  return -fullness - (node.podsPerJob.get(pod.job) ?? 0)
}
