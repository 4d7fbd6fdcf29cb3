import type { JobStatusBody, UnplacedBody } from '../node/api/job-wire.js'
import { jobProgress, progressLine } from './job-format.js'

/** How `followRollout` waits; `wait` and `nowMs` are injected so tests need not sleep. */
export interface RolloutOptions {
  /** The most time to wait for the job, from the first poll. */
  readonly timeoutMs: number
  /** Between two polls. */
  readonly pollIntervalMs: number
  /** How long nothing may change while pods cannot be placed before giving up on them. */
  readonly stuckMs: number
  /** A monotonic clock. */
  readonly nowMs: () => number
  readonly wait: (ms: number) => Promise<void>
}

/** How often `galaxy job run` asks for the job. */
export const rolloutPollIntervalMs = 500
/** How long `galaxy job run` watches unplaceable pods not change before it says so. */
export const rolloutStuckMs = 3000

/** Why a rollout stopped being followed; `status` is the job as last read. */
export type RolloutOutcome =
  /** Every pod runs the current version and is healthy (or, for a batch job, finished). */
  | { readonly type: 'done', readonly status: JobStatusBody }
  /** The update paused at its breakpoint (or by hand): it waits for `galaxy job continue`. */
  | { readonly type: 'paused', readonly status: JobStatusBody }
  /** The job is being stopped or removed, or finished: it will not come up. */
  | { readonly type: 'stopped', readonly status: JobStatusBody }
  /** Some pods could not be placed and nothing changed for `stuckMs`. */
  | { readonly type: 'unplaceable', readonly status: JobStatusBody, readonly unplaced: UnplacedBody }
  | { readonly type: 'timeout', readonly status: JobStatusBody }

/**
 * Polls a job until it is up, paused, stopping, stuck with pods no node can take, or out of time,
 * calling `report` with a progress line (`progressLine`) each time the counts change. Failures of
 * `readStatus` propagate.
 */
export async function followRollout (readStatus: () => Promise<JobStatusBody>, report: (line: string) => void, options: RolloutOptions): Promise<RolloutOutcome> {
  const startMs = options.nowMs()
  let lastLine = ''
  let lastUnplaced = -1
  let changedAtMs = startMs
  // Bounded by timeoutMs: every turn waits, the last only until the deadline.
  while (true) {
    const status = await readStatus()
    const nowMs = options.nowMs()
    const progress = jobProgress(status)
    const line = progressLine(progress)
    const unplaced = status.unplaced?.pods ?? 0
    if (line !== lastLine || unplaced !== lastUnplaced) {
      if (line !== lastLine) report(line)
      lastLine = line
      lastUnplaced = unplaced
      changedAtMs = nowMs
    }
    if (progress.done >= progress.replica) return { type: 'done', status }
    if (progress.state === 'destroying' || progress.state === 'finished') return { type: 'stopped', status }
    if (progress.state === 'paused') return { type: 'paused', status }
    if (status.unplaced !== null && unplaced > 0 && nowMs - changedAtMs >= options.stuckMs) return { type: 'unplaceable', status, unplaced: status.unplaced }
    if (nowMs - startMs >= options.timeoutMs) return { type: 'timeout', status }
    await options.wait(Math.min(options.pollIntervalMs, Math.max(0, startMs + options.timeoutMs - nowMs)))
  }
}
