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
