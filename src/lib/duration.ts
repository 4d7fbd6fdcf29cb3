import { err, ok, type Result } from './result.js'

/** Milliseconds in each unit a duration may be written in: Go's units from `ms` up (Nomad and Kubernetes flags read the same). */
const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

type DurationUnit = keyof typeof unitMs

/** The longest duration text parsed: a bound on the work, far above any real flag value. */
const maxDurationChars = 64

/**
 * Parses a duration as people write it on a command line: a sequence of a number and a unit
 * (`500ms`, `15s`, `2m`, `1h30m`, `1.5s`), or `0`. The result is whole milliseconds; a value
 * finer than that (`1.5ms`), a missing or unknown unit, a negative value and a value beyond
 * `Number.MAX_SAFE_INTEGER` ms are refused with the reason.
 */
export function parseDuration (text: string): Result<number> {
  const help = 'write it like 500ms, 15s, 2m or 1h30m'
  if (text.length > maxDurationChars) return err(`duration "${text.slice(0, maxDurationChars)}…" is too long`)
  if (text === '0') return ok(0)
  if (text === '') return err(`empty duration (${help})`)
  if (text.startsWith('-')) return err(`duration "${text}" must not be negative`)
  const part = /(\d+(?:\.\d+)?)([a-z\u00b5]*)/y
  let totalMs = 0
  let index = 0
  while (index < text.length) {
    part.lastIndex = index
    const match = part.exec(text)
    if (match === null) return err(`"${text}" is not a duration (${help})`)
    const [whole, number, unit] = match as unknown as [string, string, string]
    if (unit === '') return err(`duration "${text}" has no unit after ${number} (${help})`)
    if (!(unit in unitMs)) return err(`duration "${text}" has an unknown unit "${unit}" (use ms, s, m or h)`)
    totalMs += Number(number) * unitMs[unit as DurationUnit]
    index += whole.length
  }
  // Decimal parts add binary rounding noise (0.1s → 100.00000000000001): allow for it, refuse real fractions.
  const roundedMs = Math.round(totalMs)
  if (Math.abs(totalMs - roundedMs) > 1e-6 * Math.max(1, totalMs)) return err(`duration "${text}" is not a whole number of milliseconds`)
  if (!Number.isSafeInteger(roundedMs)) return err(`duration "${text}" is too long`)
  return ok(roundedMs)
}

/**
 * Prints whole milliseconds the way `parseDuration` reads them back, largest units first:
 * `15000` → `15s`, `90000` → `1m30s`, `1500` → `1.5s`, `250` → `250ms`, `0` → `0s`.
 */
export function formatDuration (ms: number): string {
  if (ms === 0) return '0s'
  if (ms < 0) return `-${formatDuration(-ms)}`
  if (ms < unitMs.s) return `${ms}ms`
  const hours = Math.floor(ms / unitMs.h)
  const minutes = Math.floor((ms % unitMs.h) / unitMs.m)
  const secondsMs = ms % unitMs.m
  const parts: string[] = []
  if (hours > 0) parts.push(`${hours}h`)
  if (minutes > 0) parts.push(`${minutes}m`)
  // Thousandths of a second print exactly; trailing zeros go.
  if (secondsMs > 0) parts.push(`${(secondsMs / unitMs.s).toFixed(3).replace(/\.?0+$/, '')}s`)
  return parts.join('')
}
