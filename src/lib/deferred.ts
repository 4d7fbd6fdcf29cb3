/** A promise with its resolve function, for answers that arrive through a callback. */
export interface Deferred<T> {
  readonly promise: Promise<T>
  readonly resolve: (value: T) => void
}

/** Makes a `Deferred` (what `Promise.withResolvers` does on Node 22, without the reject). */
export function deferred<T> (): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>(resolve_ => { resolve = resolve_ })
  return { promise, resolve }
}
