// libp2p 3 and its helpers call Promise.withResolvers, which Node gained in 22. On Node 20 this
// fills it in; importing this module first in every entry that reaches libp2p keeps them working.
// (ES2024 standard behaviour, so nothing changes on Node 22 where it already exists.)
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> (this: PromiseConstructor) {
      let resolve!: (value: T | PromiseLike<T>) => void
      let reject!: (reason?: unknown) => void
      const promise = new this<T>((a, b) => { resolve = a; reject = b })
      return { promise, resolve, reject }
    }
  })
}

export {}
