import { DecodeError, wireInteger } from '../decode-error.js'

/** Refuses a node report (or a part of one, such as its agent's): throws `DecodeError` saying why. */
export function failReport (message: string): never {
  throw new DecodeError(`node report: ${message}`)
}

/** An unsigned integer field of a node report (see `wireInteger`). */
export function readInteger (value: unknown, field: string): number {
  return wireInteger(value, 'node report', field)
}
