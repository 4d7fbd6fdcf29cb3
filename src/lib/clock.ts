import { assert } from './assert.js'

/** A pending callback from `Clock.setTimer`; `cancel` is idempotent. */
export interface Timer {
  cancel(): void
}

/**
 * Time as galaxy's code sees it. Cores never read the system clock: they get a `Clock`, real in
 * production (`runtime/system-clock`) and a `ManualClock` in tests and simulations, so any run
 * can be replayed.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock; only differences mean anything. Never goes back. */
  monotonicMs(): number
  /** Milliseconds since the Unix epoch, for records people read. May jump. */
  wallMs(): number
  /** Calls `callback` once, no earlier than `delayMs` from now on the monotonic clock. */
  setTimer(delayMs: number, callback: () => void): Timer
}

/** The most timers one `advance` fires: more means a timer re-arms itself with no delay, forever. */
const maxTimersPerAdvance = 1_000_000

interface PendingTimer {
  readonly dueMs: number
  readonly order: number
  readonly callback: () => void
  cancelled: boolean
}

/**
 * A clock that moves only when told. `advance` fires every timer that falls due, in due-time
 * order (ties in the order they were set), including timers set by those callbacks.
 */
export class ManualClock implements Clock {
  private nowMs: number
  private readonly wallOffsetMs: number
  private timers: PendingTimer[] = []
  private nextOrder = 0

  constructor (options: { startMs?: number, wallStartMs?: number } = {}) {
    this.nowMs = options.startMs ?? 0
    this.wallOffsetMs = (options.wallStartMs ?? 1_700_000_000_000) - this.nowMs
  }

  monotonicMs (): number {
    return this.nowMs
  }

  wallMs (): number {
    return this.nowMs + this.wallOffsetMs
  }

  setTimer (delayMs: number, callback: () => void): Timer {
    assert(Number.isFinite(delayMs) && delayMs >= 0, 'timer delay must be a finite non-negative number', { delayMs })
    const timer: PendingTimer = { dueMs: this.nowMs + delayMs, order: this.nextOrder++, callback, cancelled: false }
    this.timers.push(timer)
    return { cancel: () => { timer.cancelled = true } }
  }

  /** How many timers are still waiting to fire. */
  pendingTimers (): number {
    return this.timers.filter(timer => !timer.cancelled).length
  }

  /** Moves time forward by `ms`, firing due timers at their own due times. */
  advance (ms: number): void {
    assert(Number.isFinite(ms) && ms >= 0, 'a clock only moves forward', { ms })
    const targetMs = this.nowMs + ms
    let fired = 0
    for (let next = this.takeNextDue(targetMs); next !== undefined; next = this.takeNextDue(targetMs)) {
      assert(++fired <= maxTimersPerAdvance, 'timers keep re-arming within one advance', { fired, nowMs: this.nowMs })
      this.nowMs = next.dueMs
      next.callback()
    }
    this.nowMs = targetMs
  }

  private takeNextDue (targetMs: number): PendingTimer | undefined {
    this.timers = this.timers.filter(timer => !timer.cancelled)
    let next: PendingTimer | undefined
    for (const timer of this.timers) {
      if (timer.dueMs > targetMs) continue
      if (next === undefined || timer.dueMs < next.dueMs || (timer.dueMs === next.dueMs && timer.order < next.order)) next = timer
    }
    if (next !== undefined) next.cancelled = true
    return next
  }
}
