/** Named bounds of keeping a snapshot's data in memory. */
export const snapshotDataLimits = {
  /**
   * How long data read from disk is held for whoever asked for it before only a weak reference
   * remains: the core asks again at its next heartbeat's answer (every 100 ms), unless it stopped
   * needing the snapshot meanwhile (the follower caught up, or this node stopped leading).
   */
  holdFetchedMs: 10_000
}

/**
 * The latest snapshot's data, in memory only while something uses it. A member needs it only to
 * send it to a follower whose next entries were compacted away, which is rare, while keeping it
 * costs as much memory as the state itself (29 MiB of an aged leader's 88 MiB of buffers at
 * 100,000 keys). So it is held through a weak reference: alive while a transfer holds it, read
 * back from its file when asked for after it was collected. Reading is asynchronous: `get`
 * answers undefined meanwhile and the caller asks again (the Raft core does so at every
 * heartbeat answer until it has the data).
 */
export class SnapshotData {
  private latest: { readonly index: number, readonly data: WeakRef<Uint8Array> } | undefined
  /** Read for `index` and not handed out yet: held until then, or until the hold expires. */
  private fetched: { readonly index: number, data: Uint8Array, readonly timer: NodeJS.Timeout } | undefined
  /** The index being read, if any. */
  private reading: number | undefined
  /** The read under way (or the last one), settled either way. */
  private pending: Promise<void> = Promise.resolve()
  /** The last index whose read failed, so that its failure is reported once. */
  private failedIndex: number | undefined

  constructor (
    private readonly read: (index: number) => Promise<Uint8Array>,
    private readonly onReadError: (index: number, error: unknown) => void
  ) {}

  /** The data of the snapshot at `index` when it is in memory; else starts reading it and answers undefined. */
  get (index: number): Uint8Array | undefined {
    const fetched = this.fetched
    if (fetched?.index === index) {
      this.release()
      this.remember(index, fetched.data)
      return fetched.data
    }
    const data = this.latest?.index === index ? this.latest.data.deref() : undefined
    if (data !== undefined) return data
    if (this.reading !== index) this.fetch(index)
    return undefined
  }

  /** The data of a snapshot just taken or installed at `index`: kept only while something else holds it. */
  remember (index: number, data: Uint8Array): void {
    this.latest = { index, data: new WeakRef(data) }
    if (this.fetched !== undefined && this.fetched.index !== index) this.release()
    // A read of an older snapshot still under way is of no use any more.
    if (this.reading !== undefined && this.reading !== index) this.reading = undefined
  }

  /** Resolves once no read is under way: the storage may close then. */
  async settled (): Promise<void> {
    await this.pending
  }

  private fetch (index: number): void {
    this.reading = index
    this.pending = this.read(index).then(data => {
      if (this.reading !== index) return
      this.release()
      const timer = setTimeout(() => { this.release() }, snapshotDataLimits.holdFetchedMs)
      timer.unref()
      this.fetched = { index, data, timer }
      this.remember(index, data)
    }, error => {
      // A read nobody wants any more may fail for that very reason (its file was replaced).
      if (this.reading !== index) return
      if (this.failedIndex !== index) this.onReadError(index, error)
      this.failedIndex = index
    }).finally(() => {
      if (this.reading === index) this.reading = undefined
    })
  }

  /** Drops the strong hold on fetched data (the weak reference stays). */
  private release (): void {
    if (this.fetched !== undefined) clearTimeout(this.fetched.timer)
    this.fetched = undefined
  }
}
