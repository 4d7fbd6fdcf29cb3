import { setTimeout as sleep } from 'node:timers/promises'
import { GalaxyError } from '../lib/errors.js'
import type { Compare, TxnOp } from '../store/types.js'
import { internalCall, type ApiCall, type ApiReply } from './api/call.js'
import type { ApiErrorCode, KeyValueBody, LockBody, TxnResultBody } from './api/wire.js'

/** One key as the roles read it: the value decoded from base64. */
export interface StoredValue {
  readonly key: string
  readonly value: Uint8Array
  readonly modRevision: number
  readonly createRevision: number
}

/** An answer of the store that is an error: its API code and one-line message. */
export class StoreCallError extends GalaxyError {
  constructor (readonly apiCode: ApiErrorCode | 'ERR_INTERNAL', message: string) {
    super(apiCode, message)
  }
}

/** Named bounds of the roles' store client. */
export const routerStoreLimits = {
  pageSize: 1000,
  /** How long a watch that ended waits before it is opened again. */
  rewatchMs: 1000
} as const

const decoder = new TextDecoder()

/**
 * The store as the roles of a node use it: the node's own router, called in process (served here
 * on a voting seed, forwarded otherwise), with the API's JSON shapes decoded. Reads are
 * linearizable unless `stale` is asked for. Every failure throws `StoreCallError`.
 */
export class RouterStore {
  constructor (private readonly handle: (call: ApiCall) => Promise<ApiReply>) {}

  async get (key: string, options: { stale?: boolean } = {}): Promise<StoredValue | undefined> {
    const body = await this.json<{ kv: KeyValueBody | null }>('GET', `/v1/kv/${encodeURIComponent(key)}${options.stale === true ? '?stale=1' : ''}`)
    return body.kv === null ? undefined : stored(body.kv)
  }

  /** Every key under `prefix`, page by page; a linearizable read ends early when `signal` aborts. */
  async list (prefix: string, options: { stale?: boolean, signal?: AbortSignal } = {}): Promise<StoredValue[]> {
    const values: StoredValue[] = []
    let after: string | undefined
    for (;;) {
      const query = new URLSearchParams({ prefix, limit: String(routerStoreLimits.pageSize), ...(after === undefined ? {} : { after }), ...(options.stale === true ? { stale: '1' } : {}) })
      const body = await this.json<{ items: KeyValueBody[], more: boolean }>('GET', `/v1/kv?${query.toString()}`, undefined, options.signal)
      values.push(...body.items.map(stored))
      if (!body.more || body.items.length === 0) return values
      after = body.items[body.items.length - 1]?.key
    }
  }

  async txn (compares: readonly Compare[], success: readonly TxnOp[], failure: readonly TxnOp[] = []): Promise<{ succeeded: boolean, revision: number, gets: Array<StoredValue | null> }> {
    const base64 = (value: Uint8Array): string => Buffer.from(value).toString('base64')
    const body = await this.json<TxnResultBody>('POST', '/v1/txn', {
      compares: compares.map(compare => compare.target === 'value' ? { ...compare, value: base64(compare.value) } : compare),
      success: success.map(op => op.type === 'put' ? { ...op, value: base64(op.value) } : op),
      failure: failure.map(op => op.type === 'put' ? { ...op, value: base64(op.value) } : op)
    })
    return { succeeded: body.succeeded, revision: body.revision, gets: body.gets.map(kv => kv === null ? null : stored(kv)) }
  }

  async leaseGrant (ttlMs: number): Promise<number> {
    return (await this.json<{ lease: number }>('POST', '/v1/lease/grant', { ttlMs })).lease
  }

  async leaseKeepAlive (lease: number): Promise<void> {
    await this.json('POST', '/v1/lease/keepalive', { lease })
  }

  async leaseRevoke (lease: number): Promise<void> {
    await this.json('POST', '/v1/lease/revoke', { lease })
  }

  /** Takes a lock without waiting: its fencing token, or undefined when another holds it. */
  async tryLock (name: string, owner: string, lease: number): Promise<number | undefined> {
    try {
      return (await this.json<LockBody>('POST', '/v1/lock/acquire', { name, owner, lease, waitMs: 0 })).token
    } catch (error) {
      if (error instanceof StoreCallError && error.apiCode === 'ERR_LOCK_BUSY') return undefined
      throw error
    }
  }

  async unlock (name: string, owner: string): Promise<void> {
    await this.json('POST', '/v1/lock/release', { name, owner })
  }

  /**
   * Calls `changed` whenever a key under `prefix` is written or deleted, until `signal` aborts; a
   * watch that ends is opened again.
   */
  async watch (prefix: string, changed: () => void, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const reply = await this.handle(internalCall('GET', `/v1/watch?${new URLSearchParams({ prefix }).toString()}`, undefined, signal))
        if ('stream' in reply && reply.status === 200) {
          for await (const chunk of reply.stream) if (chunk.byteLength > 0 && decoder.decode(chunk).includes('"key"')) changed()
        }
      } catch {
        // Opened again below.
      }
      // Cut short when the signal aborts: a stopped node keeps no watch's timer alive.
      await sleep(routerStoreLimits.rewatchMs, undefined, { signal }).catch(() => {})
    }
  }

  private async json<T> (method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const reply = await this.handle(internalCall(method, path, body, signal))
    if (!('body' in reply)) throw new StoreCallError('ERR_INTERNAL', `the store answered ${method} ${path} with a stream`)
    const parsed = JSON.parse(decoder.decode(reply.body)) as T & { error?: { code?: ApiErrorCode, message?: string } }
    if (reply.status !== 200) throw new StoreCallError(parsed.error?.code ?? 'ERR_INTERNAL', parsed.error?.message ?? `status ${reply.status}`)
    return parsed
  }
}

function stored (kv: KeyValueBody): StoredValue {
  return { key: kv.key, value: Buffer.from(kv.value, 'base64'), modRevision: kv.modRevision, createRevision: kv.createRevision }
}
