/**
 * A broken invariant: a bug in galaxy, never a user's mistake. Nothing catches it on purpose;
 * the process crashes and its supervisor restarts it from durable state.
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError'
  /** Values that explain the failure, kept apart from the static message. */
  readonly fields: Readonly<Record<string, unknown>>

  constructor (message: string, fields: Readonly<Record<string, unknown>> = {}) {
    super(Object.keys(fields).length === 0 ? message : `${message} ${JSON.stringify(fields)}`)
    this.fields = fields
  }
}

/** Throws an `AssertionError` unless `condition` holds. */
export function assert (condition: unknown, message: string, fields?: Readonly<Record<string, unknown>>): asserts condition {
  if (!condition) throw new AssertionError(message, fields)
}

/** Marks a branch the type checker proves unreachable; reaching it at run time is a bug. */
export function unreachable (value: never, message = 'unreachable'): never {
  throw new AssertionError(message, { value })
}
