import { parseDuration } from '../lib/duration.js'
import { UsageError } from '../lib/errors.js'

/** A duration flag (`--ttl 15s`) in milliseconds, `fallbackMs` when absent; a malformed one is a usage error naming the flag. */
export function durationFlag (flag: string, text: string | undefined, fallbackMs: number): number {
  if (text === undefined) return fallbackMs
  const parsed = parseDuration(text)
  if (!parsed.ok) throw new UsageError(`${flag}: ${parsed.error}`)
  return parsed.value
}

/**
 * A whole-number flag or argument (`--limit 10`, a lease id) at least `min`, undefined when
 * absent; anything else is a usage error naming it.
 */
export function integerFlag (flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(value) || value < min) throw new UsageError(`${flag}: "${text}" is not a whole number of at least ${min}`)
  return value
}

/** A key or name argument: an empty one is a usage error. */
export function nonEmpty (what: string, text: string): string {
  if (text === '') throw new UsageError(`${what} must not be empty`)
  return text
}
