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
      case 'restore': return this.restore(command.data)
    }
  }

  // ---- restore ----

  /**
   * Replaces keys, leases and locks with those of `data`; sessions stay, so a retried command is
   * still answered once. Revisions never go back, for watchers and fencing tokens alike: the
   * restore takes revision max(current, data's) + 1 and every restored key is written at it
   * (value, version and lease kept), every restored lock holder gets it as its token (the lock
   * key's modRevision, which guarded writes compare with), and the history is compacted up to and
   * including it, so a watcher resuming from any earlier revision — even one that had seen
   * everything before the restore — is told `compacted` and lists again.
   */
  private restore (data: StoreData): StoreResult {
    const invalid = checkStoreData(data)
    if (invalid !== undefined) return refuse('badRequest', `restore: ${invalid}`)
    const revision = Math.max(this.kv.revision, data.kv.revision) + 1
    const keys = data.kv.keys.map(kv => ({ ...kv, createRevision: revision, modRevision: revision }))
    this.kv = KeyStore.fromData({ revision, compactRevision: revision, keys, history: [] })
    this.leases = new Map(data.leases.map(({ id, ttlMs }) => [id, { ttlMs, keys: new Set<string>() }]))
    for (const kv of keys) if (kv.lease !== 0) this.leases.get(kv.lease as LeaseId)?.keys.add(kv.key)
    this.locks = LockTable.fromData(data.locks.map(lock => ({ ...lock, holder: lock.holder === null ? null : { ...lock.holder, token: revision } })))
    return { type: 'restored', revision }
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

/**
 * Why `data` could not be the state of a store, or undefined when it could: integers in range;
 * keys, leases, locks and sessions each unique, and leases, locks and sessions in the order
 * `toData` gives them; revisions within the store's revision, history above the compaction
 * revision and in order, and every lease a key or a lock names present. `fromData` and restore
 * rely on these.
 */
export function checkStoreData (data: StoreData): string | undefined {
  const steps = checkStoreDataInSteps(data)
  let step = steps.next()
  while (step.done !== true) step = steps.next()
  return step.value
}

/** How many items `checkStoreDataInSteps` checks between two steps. */
const checkStepItems = 1000

/**
 * `checkStoreData` a thousand items at a time: each `next()` checks the next items, and the last
 * answers what `checkStoreData` would. A snapshot's encoding checks its state between other work.
 */
export function * checkStoreDataInSteps (data: StoreData): Generator<void, string | undefined> {
  const { kv } = data
  if (!isCount(kv.revision) || !isCount(kv.compactRevision) || kv.compactRevision > kv.revision) return `bad revisions ${kv.revision}, compacted ${kv.compactRevision}`
  let checked = 0
  const leases = new Set<number>()
  let previousLease = 0
  for (const lease of data.leases) {
    if (++checked % checkStepItems === 0) yield
    if (!isCount(lease.id) || lease.id <= previousLease) return `lease ${lease.id} is not a positive id above ${previousLease}`
    if (!isCount(lease.ttlMs)) return `lease ${lease.id} has a bad ttl`
    leases.add(lease.id)
    previousLease = lease.id
  }
  const keys = new Set<string>()
  for (const item of kv.keys) {
    if (++checked % checkStepItems === 0) yield
    if (keys.has(item.key)) return `key ${JSON.stringify(item.key)} is repeated`
    keys.add(item.key)
    if (!isCount(item.version) || item.version === 0) return `key ${JSON.stringify(item.key)} has version ${item.version}`
    if (!isCount(item.createRevision) || item.createRevision === 0 || !isCount(item.modRevision) || item.createRevision > item.modRevision || item.modRevision > kv.revision) {
      return `key ${JSON.stringify(item.key)} has bad revisions`
    }
    if (!isCount(item.lease) || (item.lease !== 0 && !leases.has(item.lease))) return `key ${JSON.stringify(item.key)} names lease ${item.lease}, which is not there`
  }
  let previousEvent = kv.compactRevision + 1
  for (const event of kv.history) {
    if (++checked % checkStepItems === 0) yield
    if (!isCount(event.revision) || event.revision < previousEvent || event.revision > kv.revision) return `event at ${event.revision} is out of order or outside (${kv.compactRevision}, ${kv.revision}]`
    if (!isCount(event.version)) return `event at ${event.revision} has a bad version`
    previousEvent = event.revision
  }
  let previousLock: string | undefined
  for (const lock of data.locks) {
    if (++checked % checkStepItems === 0) yield
    if (previousLock !== undefined && lock.name <= previousLock) return `lock ${JSON.stringify(lock.name)} is out of order or repeated`
    previousLock = lock.name
    const owners = new Set<string>()
    if (lock.holder !== null) {
      const { holder } = lock
      if (!leases.has(holder.lease)) return `lock ${JSON.stringify(lock.name)} is held under lease ${holder.lease}, which is not there`
      if (!isCount(holder.token) || holder.token === 0 || holder.token > kv.revision) return `lock ${JSON.stringify(lock.name)} has token ${holder.token}`
      owners.add(holder.owner)
    }
    for (const waiter of lock.waiters) {
      if (owners.has(waiter.owner)) return `lock ${JSON.stringify(lock.name)} lists ${JSON.stringify(waiter.owner)} twice`
      if (!leases.has(waiter.lease)) return `lock ${JSON.stringify(lock.name)} has a waiter under lease ${waiter.lease}, which is not there`
      owners.add(waiter.owner)
    }
  }
  let previousClient: string | undefined
  for (const session of data.sessions) {
    if (++checked % checkStepItems === 0) yield
    if (previousClient !== undefined && session.client <= previousClient) return `session ${JSON.stringify(session.client)} is out of order or repeated`
    previousClient = session.client
    if (!isCount(session.sequence) || !isCount(session.lastIndex)) return `session ${JSON.stringify(session.client)} has a bad sequence or index`
  }
  return undefined
}

/** A non-negative safe integer. */
function isCount (value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0
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
