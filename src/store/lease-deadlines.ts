import { assert } from '../lib/assert.js'
import type { LeaseId } from './types.js'

interface Deadline {
  readonly ttlMs: number
  deadlineMs: number
  /** `expired` named it already; it is named again only after a keep-alive re-arms it. */
  reported: boolean
}

/**
 * When each lease runs out, as the Raft leader sees it (etcd's Lessor). Only the leader decides
 * expiry: it proposes `leaseExpire` for what `expired` names, and the state machine applies it on
 * every node. Keep-alives reach the leader alone, so a new leader knows no deadlines: `promote`
 * gives every lease a full TTL plus `extendMs` (the election that just happened), never expiring
 * a lease whose keep-alives went to the old leader. Pure: time is always an argument.
 */
export class LeaseDeadlines {
  private readonly leases = new Map<LeaseId, Deadline>()

  /** Starts tracking a granted lease: it runs out at `nowMs + ttlMs` unless kept alive. */
  grant (lease: LeaseId, ttlMs: number, nowMs: number): void {
    assert(Number.isFinite(ttlMs) && ttlMs >= 0 && Number.isFinite(nowMs), 'lease ttl and time must be finite', { lease, ttlMs, nowMs })
    this.leases.set(lease, { ttlMs, deadlineMs: nowMs + ttlMs, reported: false })
  }

  /** Moves the lease's deadline to `nowMs + ttlMs`; false when the lease is unknown (revoked, expired, never granted) or its time already ran out. */
  keepAlive (lease: LeaseId, nowMs: number): boolean {
    const deadline = this.leases.get(lease)
    // A lease whose time ran out is dead even before its expiry is applied: renewing it now would
    // promise a TTL that the expiry already proposed will take away (etcd's Renew refuses it too).
    if (deadline === undefined || deadline.reported || deadline.deadlineMs <= nowMs) return false
    deadline.deadlineMs = nowMs + deadline.ttlMs
    deadline.reported = false
    return true
  }

  /** Stops tracking a lease (its revocation or expiry was applied). */
  forget (lease: LeaseId): void {
    this.leases.delete(lease)
  }

  /**
   * Leases whose deadline is at or before `nowMs`, in id order, each named once: it is named again
   * only after a keep-alive moved its deadline and that one passed too. Linear in the leases.
   */
  expired (nowMs: number): LeaseId[] {
    const due: LeaseId[] = []
    for (const [lease, deadline] of this.leases) {
      if (deadline.reported || deadline.deadlineMs > nowMs) continue
      deadline.reported = true
      due.push(lease)
    }
    return due.sort((a, b) => a - b)
  }

  /**
   * This node just became leader: track exactly `leases` (the state machine's), each running out
   * at `nowMs + ttlMs + extendMs` (etcd's Lessor.Promote).
   */
  promote (leases: ReadonlyArray<{ readonly id: LeaseId, readonly ttlMs: number }>, nowMs: number, extendMs: number): void {
    assert(Number.isFinite(extendMs) && extendMs >= 0, 'promotion extension must be finite and non-negative', { extendMs })
    this.leases.clear()
    // The extension is for this promotion only: a keep-alive re-arms a lease with its own TTL.
    for (const { id, ttlMs } of leases) this.leases.set(id, { ttlMs, deadlineMs: nowMs + ttlMs + extendMs, reported: false })
  }

  /** When `lease` runs out, or undefined when it is not tracked. */
  deadlineOf (lease: LeaseId): number | undefined {
    return this.leases.get(lease)?.deadlineMs
  }

  /** How many leases are tracked. */
  get size (): number {
    return this.leases.size
  }
}
