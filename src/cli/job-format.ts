import type { JobOperationBody, JobPodBody, JobStatusBody, UnplacedBody } from '../node/api/job-wire.js'
import { displayValue } from './api-format.js'

/** A job as the API gives it. */
export type JobRecordBody = JobStatusBody['job']

/** A pod's record as its AppMaster last wrote it. */
type PodStatusBody = NonNullable<JobPodBody['status']>

/**
 * The one line after a job operation: `job web paused (state paused, version 3f2a…)`, or
 * `job web unchanged (…)` when the operation asked for what already was. `done` says what
 * happened, in the past tense.
 */
export function operationLine (body: JobOperationBody, done: string): string {
  const job = body.job
  return `job ${job.name} ${body.changed ? done : 'unchanged'} (state ${job.state}, version ${job.current.version})`
}

/** Whether a pod runs the job's current version, program and data. */
export function isCurrent (job: JobRecordBody, status: PodStatusBody): boolean {
  return status.version === job.current.podVersion && status.dataVersion === job.current.dataVersion
}

/**
 * Whether a pod is where the job wants it: at the current version and serving (running and
 * healthy), or, for a batch job, finished.
 */
export function isDone (job: JobRecordBody, status: PodStatusBody | null): boolean {
  if (status === null || !isCurrent(job, status)) return false
  if (job.current.spec.type === 'batch' && status.phase === 'finished') return true
  return status.phase === 'running' && status.healthy
}

/** How far a job is: its pods placed, and of those at the current version how many run and are healthy. */
export interface JobProgress {
  readonly state: JobRecordBody['state']
  readonly replica: number
  readonly placed: number
  readonly running: number
  readonly healthy: number
  /** Pods that are `isDone`. */
  readonly done: number
}

/** Counts a job's pods (see `JobProgress`). */
export function jobProgress (status: JobStatusBody): JobProgress {
  const job = status.job
  const current = status.pods.flatMap(pod => pod.status !== null && isCurrent(job, pod.status) ? [pod.status] : [])
  const running = current.filter(pod => pod.phase === 'running')
  return {
    state: job.state,
    replica: job.replica,
    placed: status.pods.length,
    running: running.length,
    healthy: running.filter(pod => pod.healthy).length,
    done: status.pods.filter(pod => isDone(job, pod.status)).length
  }
}

/** `placed 3/3, running 2, healthy 1 (updating)`. */
export function progressLine (progress: JobProgress): string {
  return `placed ${progress.placed}/${progress.replica}, running ${progress.running}, healthy ${progress.healthy} (${progress.state})`
}

/**
 * `2 pods cannot be placed: cpu excluded 3 nodes, pool excluded 1 node`, the filters that excluded
 * the most nodes first.
 */
export function unplacedLine (unplaced: UnplacedBody): string {
  const counts = Object.entries(unplaced.excluded)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number' && entry[1] > 0)
    .sort(([a, countA], [b, countB]) => countB - countA || (a < b ? -1 : a > b ? 1 : 0))
  const pods = `${plural(unplaced.pods, 'pod')} cannot be placed`
  if (counts.length === 0) return `${pods}: no node was there to take them`
  return `${pods}: ${counts.map(([filter, nodes]) => `${filter} excluded ${plural(nodes, 'node')}`).join(', ')}`
}

/** `1 node`, `3 nodes`. */
export function plural (count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

/** A pod's problem in the ERROR column is cut to this many characters. */
const errorDisplayChars = 60

/** The columns of a job's pods in `galaxy job status`. */
export const podHeaders = ['POD', 'NODE', 'STATE', 'VERSION', 'RESTARTS', 'HEALTH', 'ERROR'] as const

/** One row under `podHeaders`; a pod its AppMaster has not heard from yet is `placed`. */
export function podRow (job: JobRecordBody, pod: JobPodBody): string[] {
  const status = pod.status
  if (status === null) return [pod.pod, pod.nodeName, 'placed', '-', '-', '-', '-']
  const version = status.version === '' ? '-' : isCurrent(job, status) ? status.version : `${status.version} (old)`
  // displayValue escapes control characters: the message comes from a task's node.
  const error = status.message === '' ? '-' : displayValue(new TextEncoder().encode(status.message), errorDisplayChars)
  return [pod.pod, pod.nodeName, status.phase, version, String(status.restarts), status.healthy ? 'healthy' : 'unhealthy', error]
}

/** Pods in index order (`web.2` before `web.10`). */
export function byPodIndex (a: { readonly pod: string }, b: { readonly pod: string }): number {
  const index = (pod: string): number => Number(pod.slice(pod.lastIndexOf('.') + 1))
  return index(a.pod) - index(b.pod) || (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0)
}

/** A wall-clock time as people read it in a table: `2024-05-01 12:00:03` (UTC). */
export function formatTime (ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')
}
