import type { RestartPolicy } from './pod-description.js'

/** How a task ended. `code` and `signal` are both null when it ended while nobody watched (its AppWorker restarted meanwhile). */
export interface TaskExit {
  readonly code: number | null
  readonly signal: string | null
  /** Killed by a signal whose default action dumps core (whether a dump was written is the host's core limit). */
  readonly coreDumped: boolean
  /** The task's cgroup counted an OOM kill while it ran. */
  readonly oomKilled: boolean
  readonly atMs: number
}

/** What follows an exit: a restart after `delayMs`, done for good, or failed with a reason. */
export type RestartDecision =
  | { readonly type: 'restart', readonly delayMs: number, readonly restartTimesMs: readonly number[] }
  | { readonly type: 'finished' }
  | { readonly type: 'failed', readonly reason: string }

/** Whether an exit counts as success: code 0 and no OOM kill. */
export function isSuccess (exit: TaskExit): boolean {
  return exit.code === 0 && !exit.oomKilled
}

/**
 * Decides what follows the end of a task (`succeeded` or not) under `policy`, given the times of earlier restarts. Restarts back
 * off exponentially (`initialDelayMs · 2^n` for the n-th within the window, capped), and at most
 * `attempts` fit in a window of `windowMs`: a task that keeps crashing fails instead of spinning.
 */
export function decideRestart (policy: RestartPolicy, succeeded: boolean, restartTimesMs: readonly number[], nowMs: number): RestartDecision {
  if (succeeded && policy.mode !== 'always') return { type: 'finished' }
  if (policy.mode === 'never') return { type: 'failed', reason: 'its restart policy is never' }
  const recent = restartTimesMs.filter(atMs => nowMs - atMs < policy.windowMs)
  if (recent.length >= policy.attempts) {
    return { type: 'failed', reason: `restarted ${recent.length} times within ${policy.windowMs / 1000} s, the most its restart policy allows` }
  }
  const delayMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** recent.length)
  return { type: 'restart', delayMs, restartTimesMs: [...recent, nowMs] }
}

const coreSignals = new Set(['SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGSEGV', 'SIGSYS', 'SIGXCPU', 'SIGXFSZ'])

/** Whether a signal's default action dumps core (signal(7)). */
export function isCoreSignal (signal: string | null): boolean {
  return signal !== null && coreSignals.has(signal)
}

/** How an exit reads to a person: `exited with code 3`, `killed by SIGSEGV (core dumped)`, `killed by the OOM killer`. */
export function describeExit (exit: TaskExit): string {
  if (exit.oomKilled) return 'killed by the OOM killer (memory limit)'
  if (exit.signal !== null) return `killed by ${exit.signal}${exit.coreDumped ? ' (core dumped)' : ''}`
  if (exit.code === null) return 'ended while its AppWorker was away (exit status unknown)'
  // The shell's codes for a command it could not run.
  if (exit.code === 127) return 'exited with code 127 (command not found)'
  if (exit.code === 126) return 'exited with code 126 (command not executable)'
  return `exited with code ${exit.code}`
}
