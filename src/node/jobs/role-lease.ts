import type { Logger } from '../../lib/logger.js'
import { lockKey } from '../../store/state-machine.js'
import type { Compare } from '../../store/types.js'
import { StoreCallError, type RouterStore } from '../router-store.js'

/** Named timings of the lease a node's ResMan and AppMasters hold their locks under. */
export const roleLeaseTimings = {
  /** A node that dies loses its locks this long after its last keep-alive. */
  ttlMs: 5000,
  keepAliveMs: 1000,
  /**
   * How long `stop` waits for its revoke: past it the lease expires by itself soon anyway (a node
   * cut off from the others with its connections still open would otherwise wait out the request
   * timeout; one that knows no quorum is in reach does not revoke at all).
   */
  revokeWaitMs: 2000
} as const

/**
 * The one lease a node binds its role locks to (`resman`, `appmaster/<job>`): granted when first
 * needed, kept alive every second. When a keep-alive finds it gone, every lock under it is lost:
 * the holders are told at once, and the next `current` grants a new one. `stop` revokes it, so a
 * node that shuts down hands its locks over at once (waiting at most `revokeWaitMs`).
 */
export class RoleLease {
  private lease: number | undefined
  private granting: Promise<number> | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly lostListeners: Array<() => void> = []

  constructor (private readonly store: RouterStore, private readonly logger: Logger) {}

  /** The lease to bind locks to. */
  async current (): Promise<number> {
    if (this.lease !== undefined) return this.lease
    this.granting ??= this.store.leaseGrant(roleLeaseTimings.ttlMs).then(lease => {
      this.lease = lease
      return lease
    }).finally(() => { this.granting = undefined })
    return await this.granting
  }

  /** Calls `listener` whenever the lease (and so every lock under it) is lost. */
  onLost (listener: () => void): void {
    this.lostListeners.push(listener)
  }

  start (): void {
    this.timer = setInterval(() => { void this.keepAlive() }, roleLeaseTimings.keepAliveMs)
  }

  /** Stops the keep-alives and, with `revoke`, revokes the lease (waiting at most `revokeWaitMs`). */
  async stop (options: { readonly revoke: boolean } = { revoke: true }): Promise<void> {
    clearInterval(this.timer)
    const lease = this.lease
    this.lease = undefined
    if (lease === undefined || !options.revoke) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.store.leaseRevoke(lease).catch(() => undefined),
      new Promise(resolve => { timer = setTimeout(resolve, roleLeaseTimings.revokeWaitMs) })
    ])
    clearTimeout(timer)
  }

  private async keepAlive (): Promise<void> {
    const lease = this.lease
    if (lease === undefined) return
    try {
      await this.store.leaseKeepAlive(lease)
    } catch (error) {
      if (!(error instanceof StoreCallError && error.apiCode === 'ERR_LEASE_NOT_FOUND')) {
        this.logger.debug('role lease keep-alive failed', { lease, error: (error as Error).message })
        return
      }
      if (this.lease !== lease) return
      this.lease = undefined
      this.logger.warn('role lease expired: every role lock is lost', { lease })
      for (const listener of this.lostListeners) listener()
    }
  }
}

/** The condition that guards a write by a lock's holder: the lock is still held under `token`. */
export function fenced (lock: string, token: number): Compare {
  return { target: 'modRevision', key: lockKey(lock), op: '=', value: token }
}
