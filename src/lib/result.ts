/**
 * The outcome of an operation that can fail in an expected way. Pure code returns these instead
 * of throwing; boundaries turn the failures into errors with a stable code.
 */
export type Result<T, E = string> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E }

/** A successful `Result`. */
export function ok<T> (value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value }
}

/** A failed `Result`. */
export function err<E> (error: E): { readonly ok: false; readonly error: E } {
  return { ok: false, error }
}
