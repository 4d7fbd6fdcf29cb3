import type { JobId } from '../../lib/ids.js'
import type { PodPhase } from '../appworker/pod-status.js'

/** Where the AppMasters keep their pods' state and endpoints (the naming records): `galaxy/pods/<job>/<pod>`. */
export const podsPrefix = 'galaxy/pods/'

/** The prefix of every pod record of one job. */
export function jobPodsPrefix (job: JobId): string {
  return `${podsPrefix}${job}/`
}

/** The store key of one pod record. */
export function podKey (job: JobId, pod: string): string {
  return `${podsPrefix}${job}/${pod}`
}

/**
 * One pod as its job's AppMaster last heard of it (written when it changes): where it runs, how it
 * is, and its service endpoints, which `naming resolve` and the SDK read.
 */
export interface PodRecord {
  readonly pod: string
  readonly job: JobId
  readonly container: string
  readonly node: string
  /** The host its ports are reached on: its node's address. */
  readonly host: string
  readonly version: string
  readonly dataVersion: string
  readonly phase: PodPhase
  readonly healthy: boolean
  /** Restarts of its tasks, summed. */
  readonly restarts: number
  /** The latest problem, or empty. */
  readonly message: string
  readonly ports: Readonly<Record<string, number>>
  /** The job's services on this pod, each up when the pod runs and is healthy. */
  readonly services: ReadonlyArray<{ readonly name: string, readonly port: number, readonly up: boolean }>
  readonly updatedAtMs: number
}

/** Whether a pod is in service: running and healthy. */
export function isServing (pod: Pick<PodRecord, 'phase' | 'healthy'>): boolean {
  return pod.phase === 'running' && pod.healthy
}

/** The record in a stored value, or undefined when it is not one. */
export function parsePodRecord (bytes: Uint8Array): PodRecord | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as Partial<PodRecord>
    if (typeof value.pod !== 'string' || typeof value.job !== 'string' || typeof value.node !== 'string' || typeof value.host !== 'string' ||
      typeof value.phase !== 'string' || typeof value.healthy !== 'boolean' || typeof value.ports !== 'object' || value.ports === null || !Array.isArray(value.services)) return undefined
    return value as PodRecord
  } catch {
    return undefined
  }
}
