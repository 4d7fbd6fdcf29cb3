import { KeyStore, type KeyStoreData } from './key-store.js'
import { LockTable, type LockHandover, type LockState } from './lock-table.js'
import type { Compare, KeyValue, LeaseId, SessionCommand, StoreCommand, StoreRefusal, StoreResult, TxnOp, WatchEvent } from './types.js'

/** Keys that start with this are the store's own (lock holders); clients cannot write them. */
export const reservedPrefix = '\u0000'

/** The key a lock's holder is written under: watch it to learn of handovers; compare its modRevision with a fencing token to guard a write. */
export function lockKey (name: string): string {
  return `${reservedPrefix}lock/${name}`
}

/** Named bounds on what one command may carry and on what the store keeps. */
export const storeLimits = {
  keyBytes: 4096,
  valueBytes: 1024 * 1024,
  opsPerTxn: 128,
  comparesPerTxn: 128,
  minLeaseTtlMs: 1000,
  maxLeaseTtlMs: 7 * 24 * 3600 * 1000,
  sessions: 10_000
} as const

interface Session {
  sequence: number
  result: StoreResult
  /** The log index of its last command: the least recently used session is forgotten first. */
  lastIndex: number
}

interface Lease {
  readonly ttlMs: number
  readonly keys: Set<string>
}

/** The whole state, as plain data, for snapshots. */
export interface StoreData {
  readonly kv: KeyStoreData
  readonly leases: ReadonlyArray<{ readonly id: LeaseId, readonly ttlMs: number }>
  readonly locks: readonly LockState[]
  readonly sessions: ReadonlyArray<{ readonly client: string, readonly sequence: number, readonly result: StoreResult, readonly lastIndex: number }>
}

/**
 * The replicated state machine behind the store: versioned keys with a global revision,
 * multi-key transactions with compares, leases, locks with fencing tokens, and client sessions
 * that make a retried command apply once. Pure and deterministic: applying the same commands in
 * the same order gives the same state and answers on every node. Lease expiry is not decided
 * here: the leader proposes `leaseExpire` when its clock says so.
 */
export class StoreStateMachine {
  private kv = new KeyStore()
  private leases = new Map<LeaseId, Lease>()
  private locks = new LockTable()
  private readonly sessions = new Map<string, Session>()

  /** Applies the command at log `index`. A command with a sequence its session has seen is answered from the session. */
  apply (index: number, { client, sequence, command }: SessionCommand): StoreResult {
    if (client !== '') {
      const session = this.sessions.get(client)
      if (session !== undefined && sequence <= session.sequence) {
        session.lastIndex = index
        if (sequence === session.sequence) return session.result
        return refuse('staleSequence', `client ${client} already sent ${session.sequence}`)
      }
    }
    const result = this.execute(command)
    if (client !== '') this.remember(client, sequence, result, index)
    return result
  }

  private remember (client: string, sequence: number, result: StoreResult, index: number): void {
    this.sessions.set(client, { sequence, result, lastIndex: index })
    if (this.sessions.size <= storeLimits.sessions) return
    let oldest: [string, Session] | undefined
    for (const entry of this.sessions) if (oldest === undefined || entry[1].lastIndex < oldest[1].lastIndex) oldest = entry
    if (oldest !== undefined) this.sessions.delete(oldest[0])
  }

  private execute (command: StoreCommand): StoreResult {
    switch (command.type) {
      case 'txn': return this.txn(command.compares, command.success, command.failure)
      case 'leaseGrant': return this.grantLease(command.lease, command.ttlMs)
      case 'leaseRevoke':
      case 'leaseExpire': return this.endLease(command.lease)
      case 'lockAcquire': return this.acquireLock(command.name, command.lease, command.owner)
      case 'lockRelease': return this.releaseLock(command.name, command.owner)
      case 'compact':
        if (command.revision > this.kv.revision) return refuse('futureRevision', `revision ${command.revision} is ahead of ${this.kv.revision}`)
        this.kv.compact(command.revision)
        return { type: 'compacted', revision: this.kv.compactRevision }
    }
  }

  // ---- transactions ----

  private txn (compares: readonly Compare[], success: readonly TxnOp[], failure: readonly TxnOp[]): StoreResult {
    const invalid = validateTxn(compares, success, failure, lease => this.leases.has(lease as LeaseId))
    if (invalid !== undefined) return invalid
    const succeeded = compares.every(compare => this.holds(compare))
    const ops = succeeded ? success : failure
    const writes = ops.some(op => op.type !== 'get')
    const revision = writes ? this.kv.revision + 1 : this.kv.revision
    const gets: Array<KeyValue | null> = []
    for (const op of ops) {
      switch (op.type) {
        case 'get':
          gets.push(this.kv.get(op.key) ?? null)
          break
        case 'put':
          this.putKey(op.key, op.value, op.lease ?? 0, revision)
          break
        case 'delete':
          for (const key of op.prefix === true ? this.kv.keysWithPrefix(op.key) : [op.key]) {
            if (key.startsWith(reservedPrefix) && !op.key.startsWith(reservedPrefix)) continue
            this.deleteKey(key, revision)
          }
          break
      }
    }
    if (writes) this.kv.revision = revision
    return { type: 'txn', revision: this.kv.revision, succeeded, gets }
  }

  private holds (compare: Compare): boolean {
    const kv = this.kv.get(compare.key)
    if (compare.target === 'value') {
      if (kv === undefined) return compare.op === '!='
      return compareNumbers(compareBytes(kv.value, compare.value), 0, compare.op)
    }
    const actual = kv === undefined ? 0 : kv[compare.target]
    return compareNumbers(actual, compare.value, compare.op)
  }

  private putKey (key: string, value: Uint8Array, lease: number, revision: number): void {
    const previous = this.kv.get(key)
    if (previous !== undefined && previous.lease !== 0 && previous.lease !== lease) this.leases.get(previous.lease as LeaseId)?.keys.delete(key)
    this.kv.put(key, value, lease, revision)
    if (lease !== 0) this.leases.get(lease as LeaseId)?.keys.add(key)
  }

  private deleteKey (key: string, revision: number): void {
    const previous = this.kv.delete(key, revision)
    if (previous !== undefined && previous.lease !== 0) this.leases.get(previous.lease as LeaseId)?.keys.delete(key)
  }

  // ---- leases ----

  private grantLease (id: LeaseId, ttlMs: number): StoreResult {
    if (!Number.isSafeInteger(id) || id <= 0) return refuse('badRequest', `lease id ${id} must be a positive integer`)
    if (this.leases.has(id)) return refuse('leaseExists', `lease ${id} exists`)
    if (!Number.isSafeInteger(ttlMs) || ttlMs < storeLimits.minLeaseTtlMs || ttlMs > storeLimits.maxLeaseTtlMs) {
      return refuse('badRequest', `lease ttl ${ttlMs} ms must be between ${storeLimits.minLeaseTtlMs} and ${storeLimits.maxLeaseTtlMs}`)
    }
    this.leases.set(id, { ttlMs, keys: new Set() })
    return { type: 'leaseGranted', lease: id, ttlMs }
  }

  /** Revoked or expired: the lease's keys are deleted and its locks handed on, all at one revision. */
  private endLease (id: LeaseId): StoreResult {
    const lease = this.leases.get(id)
    if (lease === undefined) return refuse('leaseNotFound', `lease ${id} does not exist`)
    const revision = this.kv.revision + 1
    for (const key of [...lease.keys].sort()) this.kv.delete(key, revision)
    this.leases.delete(id)
    for (const handover of this.locks.dropLease(id, () => revision)) this.writeLockHolder(handover, revision)
    this.kv.revision = revision
    return { type: 'leaseRevoked', lease: id, revision }
  }

  /** Lease ids and TTLs, for the leader to track expiry. */
  leaseList (): Array<{ id: LeaseId, ttlMs: number, keys: number }> {
    return [...this.leases].sort(([a], [b]) => a - b).map(([id, lease]) => ({ id, ttlMs: lease.ttlMs, keys: lease.keys.size }))
  }

  // ---- locks ----

  private acquireLock (name: string, lease: LeaseId, owner: string): StoreResult {
    if (name === '' || owner === '') return refuse('badRequest', 'a lock needs a name and an owner')
    if (!this.leases.has(lease)) return refuse('leaseNotFound', `lease ${lease} does not exist`)
    const revision = this.kv.revision + 1
    const outcome = this.locks.acquire(name, owner, lease, revision)
    if ('full' in outcome) return refuse('limit', `lock ${name} has too many waiters`)
    if ('queued' in outcome) return { type: 'lockQueued', name, position: outcome.queued }
    if (outcome.acquired.token === revision) {
      this.writeLockHolder({ name, holder: outcome.acquired }, revision)
      this.kv.revision = revision
    }
    return { type: 'lockAcquired', name, token: outcome.acquired.token }
  }

  private releaseLock (name: string, owner: string): StoreResult {
    const revision = this.kv.revision + 1
    const outcome = this.locks.release(name, owner, revision)
    if (outcome === undefined) return refuse('notHolder', `${owner} neither holds nor waits for lock ${name}`)
    if (outcome === 'cancelled') return { type: 'lockReleased', name, revision: this.kv.revision }
    this.writeLockHolder(outcome, revision)
    this.kv.revision = revision
    return { type: 'lockReleased', name, revision }
  }

  /**
   * The lock key holds the holder's owner; its modRevision is the holder's fencing token. It is not
   * bound to the holder's lease: the lock table hands it on when that lease ends.
   */
  private writeLockHolder (handover: LockHandover, revision: number): void {
    const key = lockKey(handover.name)
    if (handover.holder === null) this.kv.delete(key, revision)
    else this.kv.put(key, new TextEncoder().encode(handover.holder.owner), 0, revision)
  }

  lock (name: string): LockState {
    return this.locks.get(name)
  }

  // ---- reads ----

  get revision (): number {
    return this.kv.revision
  }

  get (key: string): KeyValue | undefined {
    return this.kv.get(key)
  }

  range (prefix: string, options: { after?: string, limit: number }): { items: KeyValue[], more: boolean, revision: number } {
    return { ...this.kv.range(prefix, options.after, options.limit), revision: this.kv.revision }
  }

  /** Changes under `prefix` from `fromRevision` on, for a watcher; resumable by asking again from the last revision seen + 1. */
  watch (prefix: string, fromRevision: number, limit: number): { events: WatchEvent[], compacted: false } | { compacted: true, compactRevision: number } {
    return this.kv.eventsSince(prefix, fromRevision, limit)
  }

  // ---- snapshots ----

  toData (): StoreData {
    return {
      kv: this.kv.toData(),
      leases: this.leaseList().map(({ id, ttlMs }) => ({ id, ttlMs })),
      locks: this.locks.toData(),
      sessions: [...this.sessions].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([client, s]) => ({ client, sequence: s.sequence, result: s.result, lastIndex: s.lastIndex }))
    }
  }

  static fromData (data: StoreData): StoreStateMachine {
    const machine = new StoreStateMachine()
    machine.kv = KeyStore.fromData(data.kv)
    machine.leases = new Map(data.leases.map(({ id, ttlMs }) => [id, { ttlMs, keys: new Set<string>() }]))
    for (const kv of data.kv.keys) if (kv.lease !== 0) machine.leases.get(kv.lease as LeaseId)?.keys.add(kv.key)
    machine.locks = LockTable.fromData(data.locks)
    for (const session of data.sessions) machine.sessions.set(session.client, { sequence: session.sequence, result: session.result, lastIndex: session.lastIndex })
    return machine
  }
}

function refuse (reason: StoreRefusal, detail: string): StoreResult {
  return { type: 'refused', reason, detail }
}

function validateTxn (compares: readonly Compare[], success: readonly TxnOp[], failure: readonly TxnOp[], leaseExists: (lease: number) => boolean): StoreResult | undefined {
  if (compares.length > storeLimits.comparesPerTxn) return refuse('limit', `a transaction has at most ${storeLimits.comparesPerTxn} compares`)
  if (success.length > storeLimits.opsPerTxn || failure.length > storeLimits.opsPerTxn) return refuse('limit', `a transaction branch has at most ${storeLimits.opsPerTxn} operations`)
  for (const op of [...success, ...failure]) {
    if (op.key === '' && !(op.type === 'delete' && op.prefix === true)) return refuse('badRequest', 'a key must not be empty')
    if (op.key.length > storeLimits.keyBytes) return refuse('limit', `a key is at most ${storeLimits.keyBytes} characters`)
    if (op.type !== 'get' && op.key.startsWith(reservedPrefix)) return refuse('badRequest', 'keys starting with \\u0000 belong to the store')
    if (op.type === 'put') {
      if (op.value.byteLength > storeLimits.valueBytes) return refuse('limit', `a value is at most ${storeLimits.valueBytes} bytes`)
      if (op.lease !== undefined && op.lease !== 0 && !leaseExists(op.lease)) return refuse('leaseNotFound', `lease ${op.lease} does not exist`)
    }
  }
  return undefined
}

function compareNumbers (actual: number, expected: number, op: Compare['op']): boolean {
  switch (op) {
    case '=': return actual === expected
    case '!=': return actual !== expected
    case '<': return actual < expected
    case '>': return actual > expected
  }
}

/** Byte-wise order, shorter first on a common prefix: -1, 0 or 1. */
function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.byteLength, b.byteLength)
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number) ? -1 : 1
  return a.byteLength === b.byteLength ? 0 : a.byteLength < b.byteLength ? -1 : 1
}
