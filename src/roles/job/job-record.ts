import type { JobId } from '../../lib/ids.js'
import { err, ok, type Result } from '../../lib/result.js'
import { jobSpecLimits, type JobSpec } from './job-spec.js'

/** Where jobs live in the store: `galaxy/jobs/<job>`, a `JobRecord` as JSON. */
export const jobsPrefix = 'galaxy/jobs/'

/** The store key of one job. */
export function jobKey (job: JobId): string {
  return `${jobsPrefix}${job}`
}

/**
 * Where a job is (Galaxy 3.0's job states): `pending` until its first pod pulls, `running`,
 * `updating` while pods move to a new version, `paused` (by hand or at the breakpoint),
 * `destroying` while its pods stop, `finished` once a stopped job has no pod left (a removed one
 * is deleted instead).
 */
export type JobState = 'pending' | 'running' | 'updating' | 'paused' | 'destroying' | 'finished'

/** One submitted revision of a job. `version` names the whole spec but replica and deploy policy. */
export interface JobVersion {
  readonly version: string
  /** What the pods run: the spec without replica, deploy policy and data packages (a data change alone reloads). */
  readonly podVersion: string
  /** The data packages' versions; a new one reloads pods in place. */
  readonly dataVersion: string
  readonly spec: JobSpec
  readonly submittedAtMs: number
}

/** What happened to a job, for `galaxy job history`. */
export interface JobEvent {
  readonly atMs: number
  readonly event: JobOperation['type'] | 'update' | 'running' | 'updated' | 'paused' | 'finished'
  readonly version: string
  readonly detail: string
}

/** A job as the store keeps it: what its users asked for, and the state its AppMaster and the ResMan moved it to. */
export interface JobRecord {
  readonly name: JobId
  readonly state: JobState
  /** The version pods should run. */
  readonly current: JobVersion
  /** The version before the last update: where a rollback goes. */
  readonly previous: JobVersion | null
  /** How many pods the job wants (the spec's replica, changed by `scale`). */
  readonly replica: number
  /** The most pods out of service at once during an update. */
  readonly step: number
  /** How long a pod that finished its update must have served before the next step. */
  readonly intervalMs: number
  /** During an update, pause once this many pods run the current version; null: never. */
  readonly breakpoint: number | null
  /** Once its pods are gone, a destroying job is deleted (`remove`) instead of finished (`stop`). */
  readonly removing: boolean
  readonly createdAtMs: number
  readonly updatedAtMs: number
  /** The latest events, oldest first, at most `jobLimits.history`. */
  readonly history: readonly JobEvent[]
}

/** Named bounds of job records. */
export const jobLimits = {
  history: 50
} as const

/** What a user may do to a job. */
export type JobOperation =
  | { readonly type: 'submit', readonly version: Omit<JobVersion, 'submittedAtMs'>, readonly step?: number | undefined, readonly breakpoint?: number | undefined }
  | { readonly type: 'pause' }
  | { readonly type: 'continue', readonly breakpoint?: number | undefined }
  | { readonly type: 'rollback' }
  | { readonly type: 'cancel' }
  | { readonly type: 'scale', readonly replica: number }
  | { readonly type: 'stop' }
  | { readonly type: 'remove' }

/**
 * Applies a user's operation to a job (undefined: there is none yet), or says in one line why it
 * cannot be done (then nothing changes). `submit` creates a job, changes its replica and policy,
 * or starts an update to a new version (during an update or its pause, it supersedes that update,
 * as in Nomad: Galaxy refused it);
 * `pause` an update; `continue` a paused one, with a new breakpoint; `rollback` a paused or
 * running update to the version before it; `cancel` an update (the pods keep the version they
 * run; new pods get the new one); `scale` the replica; `stop` every pod (the job stays) or
 * `remove` the job.
 */
export function operateJob (record: JobRecord | undefined, operation: JobOperation, nowMs: number): Result<JobRecord, string> {
  if (operation.type === 'submit') return submitJob(record, operation, nowMs)
  if (record === undefined) return err('there is no such job')
  const name = record.name
  if (record.state === 'destroying' && record.removing) return err(`job ${name} is being removed`)
  const event = (state: JobState, changes: Partial<JobRecord>, detail = ''): Result<JobRecord, string> =>
    ok(withEvent({ ...record, ...changes, state }, { atMs: nowMs, event: operation.type, version: (changes.current ?? record.current).version, detail }))
  switch (operation.type) {
    case 'pause':
      if (record.state !== 'updating') return err(`job ${name} is ${record.state}; only an update can be paused`)
      return event('paused', {})
    case 'continue': {
      if (record.state !== 'paused') return err(`job ${name} is ${record.state}; only a paused update can continue`)
      const problem = checkBreakpoint(operation.breakpoint, record.replica)
      if (problem !== undefined) return err(problem)
      return event('updating', { breakpoint: operation.breakpoint ?? null }, operation.breakpoint === undefined ? '' : `breakpoint ${operation.breakpoint}`)
    }
    case 'rollback':
      if (record.state !== 'paused' && record.state !== 'updating') return err(`job ${name} is ${record.state}; only an update can be rolled back`)
      if (record.previous === null) return err(`job ${name} has no earlier version to roll back to`)
      return event('updating', { current: { ...record.previous, submittedAtMs: nowMs }, previous: record.current, breakpoint: null }, `to ${record.previous.version}`)
    case 'cancel':
      if (record.state !== 'paused' && record.state !== 'updating') return err(`job ${name} is ${record.state}; only an update can be cancelled`)
      return event('running', { breakpoint: null })
    case 'scale': {
      if (!Number.isSafeInteger(operation.replica) || operation.replica < 0 || operation.replica > jobSpecLimits.maxReplica) return err(`replica must be between 0 and ${jobSpecLimits.maxReplica}`)
      if (record.state === 'destroying') return err(`job ${name} is stopping; run it again to start it`)
      const state = record.state === 'finished' ? 'pending' : record.state
      return event(state, { replica: operation.replica }, `${record.replica} → ${operation.replica}`)
    }
    case 'stop':
      if (record.state === 'finished') return err(`job ${name} is already stopped`)
      return event('destroying', { removing: false })
    case 'remove':
      return event('destroying', { removing: true })
  }
}

function submitJob (record: JobRecord | undefined, operation: Extract<JobOperation, { type: 'submit' }>, nowMs: number): Result<JobRecord, string> {
  const version: JobVersion = { ...operation.version, submittedAtMs: nowMs }
  const spec = version.spec
  const step = operation.step ?? spec.deploy.step
  if (!Number.isSafeInteger(step) || step < 1) return err('step must be at least 1')
  const breakpoint = operation.breakpoint ?? spec.deploy.breakpoint ?? null
  const problem = checkBreakpoint(breakpoint ?? undefined, spec.replica)
  if (problem !== undefined) return err(problem)
  const policy = { replica: spec.replica, step, intervalMs: spec.deploy.interval, breakpoint }
  const submitted = { atMs: nowMs, event: 'submit', version: version.version, detail: '' } as const
  if (record === undefined) {
    return ok({ name: spec.name as JobId, state: 'pending', current: version, previous: null, ...policy, removing: false, createdAtMs: nowMs, updatedAtMs: nowMs, history: [submitted] })
  }
  if (record.state === 'destroying') return err(`job ${record.name} is ${record.removing ? 'being removed' : 'stopping'}; wait until it is done`)
  if (version.version === record.current.version) {
    const state = record.state === 'finished' ? 'pending' : record.state
    return ok(withEvent({ ...record, ...policy, state, current: { ...record.current, spec } }, submitted))
  }
  if (record.state === 'updating' || record.state === 'paused') {
    // The update in flight is superseded; a rollback still goes to the version every pod ran before it.
    return ok(withEvent({ ...record, ...policy, state: 'updating', current: version }, { ...submitted, event: 'update', detail: `from ${record.current.version}, superseding its ${record.state} update` }))
  }
  if (record.state === 'finished') {
    return ok(withEvent({ ...record, ...policy, state: 'pending', current: version, previous: record.current }, submitted))
  }
  return ok(withEvent({ ...record, ...policy, state: 'updating', current: version, previous: record.current }, { ...submitted, event: 'update', detail: `from ${record.current.version}` }))
}

function checkBreakpoint (breakpoint: number | undefined, replica: number): string | undefined {
  if (breakpoint === undefined) return undefined
  if (!Number.isSafeInteger(breakpoint) || breakpoint < 0) return 'breakpoint must be 0 or more'
  if (breakpoint > replica) return `breakpoint must be at most the replica count (${replica})`
  return undefined
}

/** The record with `event` added to its history (the oldest dropped past the bound) and its time updated. */
export function withEvent (record: JobRecord, event: JobEvent): JobRecord {
  const history = [...record.history, event].slice(-jobLimits.history)
  return { ...record, history, updatedAtMs: event.atMs }
}

/** A job's pods are `<job>.<index>`, index 0 to replica − 1. */
export function podIdOf (job: JobId, index: number): string {
  return `${job}.${index}`
}

/** The index of a pod of `job`, or undefined when `pod` is not one of its pods. */
export function podIndexOf (job: JobId, pod: string): number | undefined {
  if (!pod.startsWith(`${job}.`)) return undefined
  const text = pod.slice(job.length + 1)
  return /^(0|[1-9]\d{0,8})$/.test(text) ? Number(text) : undefined
}

const jobStates: readonly JobState[] = ['pending', 'running', 'updating', 'paused', 'destroying', 'finished']

/**
 * A job record from a stored value, or undefined when it is not one (`galaxy/jobs/` can be written
 * through the key-value API; a record no role can read must not stop them).
 */
export function parseJobRecord (bytes: Uint8Array): JobRecord | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as Partial<JobRecord>
    const isVersion = (version: unknown): boolean => typeof version === 'object' && version !== null &&
      typeof (version as JobVersion).version === 'string' && typeof (version as JobVersion).podVersion === 'string' &&
      typeof (version as JobVersion).spec === 'object' && Array.isArray((version as JobVersion).spec?.pod?.tasks)
    if (typeof value.name !== 'string' || !jobStates.includes(value.state as JobState) || !isVersion(value.current) ||
      (value.previous !== null && !isVersion(value.previous)) || !Number.isSafeInteger(value.replica) || !Number.isSafeInteger(value.step) ||
      !Array.isArray(value.history)) return undefined
    return value as JobRecord
  } catch {
    return undefined
  }
}

/** The record as stored: JSON. */
export function encodeJobRecord (record: JobRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record))
}
