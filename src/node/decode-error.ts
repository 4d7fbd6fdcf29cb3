import { GalaxyError } from '../lib/errors.js'

/**
 * Bytes that are not a valid encoding of what the decoder was asked for: truncated, corrupted,
 * of another message, or well-formed protobuf that breaks a rule of the record (an unknown
 * variant, a missing part, an integer out of range). A decoder throws this and nothing else, and
 * never returns part of a record.
 */
export class DecodeError extends GalaxyError {
  static readonly code = 'ERR_DECODE'

  constructor (message: string, options?: { cause?: unknown }) {
    super(DecodeError.code, message, options)
  }
}

/**
 * A 64-bit protobuf field as a number: protobufjs gives a number or a Long ({ low, high }), and
 * nothing for 0. Anything else, and anything at or beyond 2^53 (or negative, unless `signed`), is
 * a `DecodeError` whose message starts with `what` (the record being decoded).
 */
export function wireInteger (value: unknown, what: string, field: string, signed = false): number {
  if (value === null || value === undefined) return 0
  let result: number
  if (typeof value === 'number') {
    result = value
  } else if (typeof value === 'object' && typeof (value as { low?: unknown }).low === 'number' && typeof (value as { high?: unknown }).high === 'number') {
    const { low, high } = value as { low: number, high: number }
    result = (signed ? high : high >>> 0) * 2 ** 32 + (low >>> 0)
  } else {
    throw new DecodeError(`${what}: ${field} is not an integer`)
  }
  if (!Number.isSafeInteger(result) || (!signed && result < 0)) throw new DecodeError(`${what}: ${field} is out of range`)
  return result
}
