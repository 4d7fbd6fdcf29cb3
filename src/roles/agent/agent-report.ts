import type { ContainerId, JobId, PodId } from '../../lib/ids.js'
import type { PodPhase } from '../appworker/pod-status.js'
import type { Resources } from './allocation.js'
import type { ContainerState } from './reconcile.js'

/** One container as the agent reports it. */
export interface ContainerReport {
  readonly id: ContainerId
  readonly job: JobId
  readonly pod: PodId
  /** The agent's state, or `refused` for a placement that does not fit (it was never made). */
  readonly state: ContainerState | 'refused'
  /** The version the placement asks for. */
  readonly version: string
  /** The pod's phase from its AppWorker's last pull; `unknown` before the first. */
  readonly phase: PodPhase | 'unknown'
  /** Why it failed or was refused, or the pod's own message; empty when there is nothing to say. */
  readonly message: string
  /** Measured from its cgroups (0 on a degraded host). */
  readonly cpuMillicores: number
  readonly memoryBytes: number
}

/** Facts about the host the agent checks every report. */
export interface HostFacts {
  readonly diskFreeBytes: number
  readonly diskTotalBytes: number
  /** Cgroup hierarchies the runtime was started on that are no longer mounted. */
  readonly missingCgroups: readonly string[]
}

/** The agent's part of its node's gossip report: what the ResMan places by. */
export interface AgentReport {
  readonly isolation: 'full' | 'degraded'
  readonly isolationReasons: readonly string[]
  readonly health: 'healthy' | 'unhealthy'
  /** Why the node is unhealthy, a line each. */
  readonly problems: readonly string[]
  readonly reserved: Resources
  readonly allocated: Resources
  /** Measured: cpu over the last interval, memory now, of every container together. */
  readonly usage: { readonly cpuMillicores: number, readonly memoryBytes: number }
  readonly containers: readonly ContainerReport[]
}

/** Named thresholds of the agent's health. */
export const healthLimits = {
  /** A disk with less free than this (or than `diskFreeRatio` of it, whichever is less) is full. */
  diskFreeBytes: 512 * 1024 * 1024,
  diskFreeRatio: 0.02
} as const

/** Whether the host can take containers, and if not, why. */
export function hostHealth (facts: HostFacts): { health: 'healthy' | 'unhealthy', problems: string[] } {
  const problems: string[] = []
  const floor = Math.min(healthLimits.diskFreeBytes, facts.diskTotalBytes * healthLimits.diskFreeRatio)
  if (facts.diskFreeBytes < floor) problems.push(`disk full: ${mib(facts.diskFreeBytes)} free of ${mib(facts.diskTotalBytes)}`)
  for (const root of facts.missingCgroups) problems.push(`cgroup mount missing: ${root}`)
  return { health: problems.length === 0 ? 'healthy' : 'unhealthy', problems }
}

/** Cpu used between two readings of a cgroup's cumulative cpu time, in millicores. */
export function cpuRate (before: { cpuUs: number, atMs: number }, after: { cpuUs: number, atMs: number }): number {
  const elapsedMs = after.atMs - before.atMs
  if (elapsedMs <= 0 || after.cpuUs < before.cpuUs) return 0
  return Math.round((after.cpuUs - before.cpuUs) / elapsedMs)
}

function mib (bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MiB`
}
