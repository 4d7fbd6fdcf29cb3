import type { LeaseId } from './types.js'

/** Who holds a lock, under which lease, and the fencing token it was granted with. */
export interface LockHolder {
  readonly owner: string
  readonly lease: LeaseId
  readonly token: number
}

/** A lock's holder and the owners waiting for it, first come first served. */
export interface LockState {
  readonly name: string
  readonly holder: LockHolder | null
  readonly waiters: ReadonlyArray<{ readonly owner: string, readonly lease: LeaseId }>
}

/** What a lock change did: the new holder (null when the lock became free). */
export interface LockHandover {
  readonly name: string
  readonly holder: LockHolder | null
}

/** The most owners waiting on one lock. */
export const maxLockWaiters = 10_000

/**
 * Locks bound to leases. A holder gets a fencing token — the revision at which it acquired the
 * lock, so tokens of successive holders strictly increase — and the resource it protects refuses
 * any token lower than the highest it has seen (Jepsen's etcd 3.4.3 analysis). Waiters are served
 * in order; a waiter whose lease ends leaves the queue, so a holder's lease is always alive when it
 * is handed the lock.
 */
export class LockTable {
  private readonly locks = new Map<string, { holder: LockHolder | null, waiters: Array<{ owner: string, lease: LeaseId }> }>()

  get (name: string): LockState {
    const lock = this.locks.get(name)
    return { name, holder: lock?.holder ?? null, waiters: lock?.waiters.slice() ?? [] }
  }

  /**
   * Takes the lock for `owner`, or queues it. `token` is the revision the acquisition would have;
   * it is used only if the lock is granted now.
   */
  acquire (name: string, owner: string, lease: LeaseId, token: number): { acquired: LockHolder } | { queued: number } | { full: true } {
    let lock = this.locks.get(name)
    if (lock === undefined) {
      lock = { holder: null, waiters: [] }
      this.locks.set(name, lock)
    }
    if (lock.holder?.owner === owner) return { acquired: lock.holder }
    const waiting = lock.waiters.findIndex(waiter => waiter.owner === owner)
    if (waiting !== -1) return { queued: waiting + 1 }
    if (lock.holder === null) {
      lock.holder = { owner, lease, token }
      return { acquired: lock.holder }
    }
    if (lock.waiters.length >= maxLockWaiters) return { full: true }
    lock.waiters.push({ owner, lease })
    return { queued: lock.waiters.length }
  }

  /**
   * Releases the lock held by `owner` and hands it to the first waiter with `token`, or takes
   * `owner` out of the queue. Returns the handover, `cancelled` for a waiter, or undefined when
   * `owner` neither holds nor waits.
   */
  release (name: string, owner: string, token: number): LockHandover | 'cancelled' | undefined {
    const lock = this.locks.get(name)
    if (lock === undefined) return undefined
    if (lock.holder?.owner !== owner) {
      const waiting = lock.waiters.findIndex(waiter => waiter.owner === owner)
      if (waiting === -1) return undefined
      lock.waiters.splice(waiting, 1)
      this.forgetIfIdle(name)
      return 'cancelled'
    }
    return this.handOver(name, token)
  }

  /**
   * A lease ended: every lock it held passes to the next waiter, and its waiters leave the queues.
   * `nextToken` gives the token for each handover, in order. Returns the handovers.
   */
  dropLease (lease: LeaseId, nextToken: () => number): LockHandover[] {
    const handovers: LockHandover[] = []
    for (const [name, lock] of [...this.locks].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
      lock.waiters = lock.waiters.filter(waiter => waiter.lease !== lease)
      if (lock.holder?.lease === lease) handovers.push(this.handOver(name, nextToken()))
      else this.forgetIfIdle(name)
    }
    return handovers
  }

  private handOver (name: string, token: number): LockHandover {
    const lock = this.locks.get(name)
    const next = lock?.waiters.shift()
    if (lock === undefined || next === undefined) {
      this.locks.delete(name)
      return { name, holder: null }
    }
    lock.holder = { owner: next.owner, lease: next.lease, token }
    return { name, holder: lock.holder }
  }

  private forgetIfIdle (name: string): void {
    const lock = this.locks.get(name)
    if (lock !== undefined && lock.holder === null && lock.waiters.length === 0) this.locks.delete(name)
  }

  toData (): LockState[] {
    return [...this.locks.keys()].sort().map(name => this.get(name))
  }

  static fromData (data: readonly LockState[]): LockTable {
    const table = new LockTable()
    for (const lock of data) table.locks.set(lock.name, { holder: lock.holder, waiters: lock.waiters.map(waiter => ({ ...waiter })) })
    return table
  }
}
