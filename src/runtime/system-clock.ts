import { performance } from 'node:perf_hooks'
import type { Clock } from '../lib/clock.js'

/** The host's clocks: `performance.now()` for monotonic time, `Date.now()` for wall time. */
export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
  setTimer (delayMs, callback) {
    const handle = setTimeout(callback, delayMs)
    return { cancel: () => { clearTimeout(handle) } }
  }
}
