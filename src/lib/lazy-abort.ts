/**
 * An abort controller made only when someone asks for its signal. Most API calls finish without
 * anything listening for their caller going away, and making a Node `AbortController` cost each
 * one about 8 µs (2 % of a leader's CPU per put).
 */
export class LazyAbort {
  private controller: AbortController | undefined
  private abortedNow = false

  /** The signal; aborted already if `abort` came first. */
  get signal (): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.abortedNow) this.controller.abort()
    }
    return this.controller.signal
  }

  get aborted (): boolean {
    return this.abortedNow
  }

  abort (): void {
    if (this.abortedNow) return
    this.abortedNow = true
    this.controller?.abort()
  }
}
