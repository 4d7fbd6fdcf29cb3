import { assert } from '../lib/assert.js'
import protobuf from 'protobufjs/minimal.js'
import { galaxy } from '../proto/gen/store.js'
import type { LockState } from '../store/lock-table.js'
import { checkStoreData, checkStoreDataInSteps, type StoreData } from '../store/state-machine.js'
import type { Compare, CompareOp, KeyValue, LeaseId, SessionCommand, StoreCommand, StoreRefusal, StoreResult, TxnOp, WatchEvent } from '../store/types.js'
import { DecodeError, wireInteger } from './decode-error.js'

// ---- the closed sets of names the wire carries as strings ----

const compareOps: Readonly<Record<CompareOp, true>> = { '=': true, '!=': true, '<': true, '>': true }
const numberTargets: Readonly<Record<Exclude<Compare['target'], 'value'>, true>> = { version: true, createRevision: true, modRevision: true }
const refusals: Readonly<Record<StoreRefusal, true>> = {
  leaseNotFound: true, leaseExists: true, badRequest: true, notHolder: true, staleSequence: true, compacted: true, futureRevision: true, limit: true
}
const eventTypes: Readonly<Record<WatchEvent['type'], true>> = { put: true, delete: true }

function isName<T extends string> (names: Readonly<Record<T, true>>, value: string): value is T {
  return Object.hasOwn(names, value)
}

// ---- encoding: TypeScript records to protobuf messages ----

/**
 * The wire holds integers in [0, 2^53) (a compare's number: any safe integer). A command built
 * from client input is checked before it is proposed, so anything else here is a caller's bug.
 */
function count (value: number, field: string): number {
  assert(Number.isSafeInteger(value) && value >= 0, 'store codec: not a non-negative safe integer', { field, value })
  return value
}

function toKeyValueMessage (kv: KeyValue): galaxy.KeyValue.$Properties {
  return {
    key: kv.key,
    value: kv.value,
    createRevision: count(kv.createRevision, 'createRevision'),
    modRevision: count(kv.modRevision, 'modRevision'),
    version: count(kv.version, 'version'),
    lease: count(kv.lease, 'lease')
  }
}

function toCompareMessage (compare: Compare): galaxy.Compare.$Properties {
  const { target, key, op } = compare
  if (compare.target === 'value') return { target, key, op, bytesValue: compare.value }
  assert(Number.isSafeInteger(compare.value), 'store codec: a compare number must be a safe integer', { value: compare.value })
  return { target, key, op, numberValue: compare.value }
}

function toTxnOpMessage (op: TxnOp): galaxy.TxnOp.$Properties {
  switch (op.type) {
    case 'put': return op.lease === undefined ? { type: op.type, key: op.key, value: op.value } : { type: op.type, key: op.key, value: op.value, lease: count(op.lease, 'lease') }
    case 'delete': return op.prefix === undefined ? { type: op.type, key: op.key } : { type: op.type, key: op.key, prefix: op.prefix }
    case 'get': return { type: op.type, key: op.key }
  }
}

function toCommandMessage (command: StoreCommand): galaxy.StoreCommand.$Properties {
  switch (command.type) {
    case 'txn': return { txn: { compares: command.compares.map(toCompareMessage), success: command.success.map(toTxnOpMessage), failure: command.failure.map(toTxnOpMessage) } }
    case 'leaseGrant': return { leaseGrant: { lease: count(command.lease, 'lease'), ttlMs: count(command.ttlMs, 'ttlMs') } }
    case 'leaseRevoke': return { leaseRevoke: { lease: count(command.lease, 'lease') } }
    case 'leaseExpire': return { leaseExpire: { lease: count(command.lease, 'lease') } }
    case 'lockAcquire': return { lockAcquire: { name: command.name, lease: count(command.lease, 'lease'), owner: command.owner } }
    case 'lockRelease': return { lockRelease: { name: command.name, owner: command.owner } }
    case 'compact': return { compact: { revision: count(command.revision, 'revision') } }
    case 'restore': return { restore: toDataMessage(command.data) }
  }
}

function toResultMessage (result: StoreResult): galaxy.StoreResult.$Properties {
  switch (result.type) {
    case 'txn': return { txn: { revision: count(result.revision, 'revision'), succeeded: result.succeeded, gets: result.gets.map(kv => kv === null ? {} : { kv: toKeyValueMessage(kv) }) } }
    case 'leaseGranted': return { leaseGranted: { lease: count(result.lease, 'lease'), ttlMs: count(result.ttlMs, 'ttlMs') } }
    case 'leaseRevoked': return { leaseRevoked: { lease: count(result.lease, 'lease'), revision: count(result.revision, 'revision') } }
    case 'lockAcquired': return { lockAcquired: { name: result.name, token: count(result.token, 'token') } }
    case 'lockQueued': return { lockQueued: { name: result.name, position: count(result.position, 'position') } }
    case 'lockReleased': return { lockReleased: { name: result.name, revision: count(result.revision, 'revision') } }
    case 'compacted': return { compacted: { revision: count(result.revision, 'revision') } }
    case 'restored': return { restored: { revision: count(result.revision, 'revision') } }
    case 'refused': return { refused: { reason: result.reason, detail: result.detail } }
  }
}

function toEventMessage (event: WatchEvent): galaxy.WatchEvent.$Properties {
  return { type: event.type, revision: count(event.revision, 'revision'), key: event.key, value: event.value, version: count(event.version, 'version') }
}

/**
 * An event of checked store data: itself, or, for a put whose value is the one its key holds,
 * a `putOfKey` event without a second copy of the value.
 */
function toDataEventMessage (event: WatchEvent, keys: ReadonlyMap<string, KeyValue>): galaxy.WatchEvent.$Properties {
  if (event.type === 'put' && event.value.byteLength > 0) {
    const current = keys.get(event.key)?.value
    if (current !== undefined && (current === event.value || Buffer.compare(current, event.value) === 0)) {
      return { type: putOfKey, revision: event.revision, key: event.key, version: event.version }
    }
  }
  return event
}

/** Each key of store data by name, for `toDataEventMessage`. */
function keysByName (keys: readonly KeyValue[]): Map<string, KeyValue> {
  return new Map(keys.map(kv => [kv.key, kv]))
}

function toLockMessage (lock: LockState): galaxy.LockState.$Properties {
  return {
    name: lock.name,
    holder: lock.holder === null ? null : { owner: lock.holder.owner, lease: count(lock.holder.lease, 'lease'), token: count(lock.holder.token, 'token') },
    waiters: lock.waiters.map(waiter => ({ owner: waiter.owner, lease: count(waiter.lease, 'lease') }))
  }
}

/** Only a state a store could be in is encoded, so that what is encoded always decodes (a restore's backup is checked before it is proposed). */
function toDataMessage (data: StoreData): galaxy.StoreData.$Properties {
  const invalid = checkStoreData(data)
  assert(invalid === undefined, 'store codec: store data no store could hold', { invalid })
  return toDataMessageUnchecked(data, keysByName(data.kv.keys))
}

/**
 * A part of checked store data: on its own, it may break the rules the whole keeps. `keys` are
 * the keys of the whole. A key and a watch event have the fields of their messages, and the check
 * covered their integers, so they go to the encoder as they are: a snapshot of 100,000 keys made
 * 200,000 copies only to be encoded.
 */
function toDataMessageUnchecked (data: StoreData, keys: ReadonlyMap<string, KeyValue>): galaxy.StoreData.$Properties {
  return {
    kv: {
      revision: count(data.kv.revision, 'revision'),
      compactRevision: count(data.kv.compactRevision, 'compactRevision'),
      keys: data.kv.keys.slice(),
      history: data.kv.history.map(event => toDataEventMessage(event, keys))
    },
    leases: data.leases.map(lease => ({ id: count(lease.id, 'lease'), ttlMs: count(lease.ttlMs, 'ttlMs') })),
    locks: data.locks.map(toLockMessage),
    sessions: data.sessions.map(session => ({ client: session.client, sequence: count(session.sequence, 'sequence'), result: toResultMessage(session.result), lastIndex: count(session.lastIndex, 'lastIndex') }))
  }
}

// ---- decoding: protobuf messages to TypeScript records, checking every rule on the way ----

function fail (message: string): never {
  throw new DecodeError(`store codec: ${message}`)
}

function integer (value: unknown, field: string, signed = false): number {
  return wireInteger(value, 'store codec', field, signed)
}

/** A bytes field as a fresh plain Uint8Array: it does not hold on to (or share) the decoded buffer. */
function bytesOf (value: Uint8Array | null | undefined): Uint8Array {
  return value === null || value === undefined ? new Uint8Array(0) : new Uint8Array(value)
}

function textOf (value: string | null | undefined): string {
  return value ?? ''
}

function present<T> (value: T | null | undefined, field: string): T {
  if (value === null || value === undefined) fail(`${field} is missing`)
  return value
}

/** The one member of a oneof that is set; none or several is an error. */
function oneMember<K extends string> (message: Partial<Record<K, unknown>>, members: readonly K[], field: string): K {
  let found: K | undefined
  for (const member of members) {
    if (message[member] === null || message[member] === undefined) continue
    if (found !== undefined) fail(`${field} sets both ${found} and ${member}`)
    found = member
  }
  return found ?? fail(`${field} sets none of ${members.join(', ')}`)
}

function fromKeyValueMessage (message: galaxy.KeyValue.$Properties): KeyValue {
  return {
    key: textOf(message.key),
    value: bytesOf(message.value),
    createRevision: integer(message.createRevision, 'createRevision'),
    modRevision: integer(message.modRevision, 'modRevision'),
    version: integer(message.version, 'version'),
    lease: integer(message.lease, 'lease')
  }
}

function fromCompareMessage (message: galaxy.Compare.$Properties): Compare {
  const key = textOf(message.key)
  const op = textOf(message.op)
  if (!isName(compareOps, op)) return fail(`compare op ${JSON.stringify(op)} is not one of =, !=, <, >`)
  const target = textOf(message.target)
  const operand = oneMember(message, ['bytesValue', 'numberValue'], 'compare operand')
  if (target === 'value') {
    if (operand !== 'bytesValue') fail('a compare of a value needs bytes')
    return { target, key, op, value: bytesOf(message.bytesValue) }
  }
  if (!isName(numberTargets, target)) return fail(`compare target ${JSON.stringify(target)} is not value, version, createRevision or modRevision`)
  if (operand !== 'numberValue') fail(`a compare of ${target} needs a number`)
  return { target, key, op, value: integer(message.numberValue, 'compare number', true) }
}

function fromTxnOpMessage (message: galaxy.TxnOp.$Properties): TxnOp {
  const key = textOf(message.key)
  const value = bytesOf(message.value)
  const hasLease = message.lease !== null && message.lease !== undefined
  const hasPrefix = message.prefix !== null && message.prefix !== undefined
  switch (message.type) {
    case 'put':
      if (hasPrefix) fail('a put has no prefix')
      return hasLease ? { type: 'put', key, value, lease: integer(message.lease, 'lease') } : { type: 'put', key, value }
    case 'delete':
      if (hasLease || value.byteLength > 0) fail('a delete has no value or lease')
      return hasPrefix ? { type: 'delete', key, prefix: message.prefix === true } : { type: 'delete', key }
    case 'get':
      if (hasLease || hasPrefix || value.byteLength > 0) fail('a get has no value, lease or prefix')
      return { type: 'get', key }
    default:
      return fail(`txn op type ${JSON.stringify(message.type)} is not put, delete or get`)
  }
}

const commandMembers = ['txn', 'leaseGrant', 'leaseRevoke', 'leaseExpire', 'lockAcquire', 'lockRelease', 'compact', 'restore'] as const

function fromCommandMessage (message: galaxy.StoreCommand.$Properties): StoreCommand {
  const member = oneMember(message, commandMembers, 'command')
  switch (member) {
    case 'txn': {
      const txn = present(message.txn, 'txn')
      return { type: 'txn', compares: (txn.compares ?? []).map(fromCompareMessage), success: (txn.success ?? []).map(fromTxnOpMessage), failure: (txn.failure ?? []).map(fromTxnOpMessage) }
    }
    case 'leaseGrant': {
      const grant = present(message.leaseGrant, 'leaseGrant')
      return { type: 'leaseGrant', lease: integer(grant.lease, 'lease') as LeaseId, ttlMs: integer(grant.ttlMs, 'ttlMs') }
    }
    case 'leaseRevoke': return { type: 'leaseRevoke', lease: integer(present(message.leaseRevoke, 'leaseRevoke').lease, 'lease') as LeaseId }
    case 'leaseExpire': return { type: 'leaseExpire', lease: integer(present(message.leaseExpire, 'leaseExpire').lease, 'lease') as LeaseId }
    case 'lockAcquire': {
      const acquire = present(message.lockAcquire, 'lockAcquire')
      return { type: 'lockAcquire', name: textOf(acquire.name), lease: integer(acquire.lease, 'lease') as LeaseId, owner: textOf(acquire.owner) }
    }
    case 'lockRelease': {
      const release = present(message.lockRelease, 'lockRelease')
      return { type: 'lockRelease', name: textOf(release.name), owner: textOf(release.owner) }
    }
    case 'compact': return { type: 'compact', revision: integer(present(message.compact, 'compact').revision, 'revision') }
    case 'restore': return { type: 'restore', data: fromDataMessage(present(message.restore, 'restore')) }
  }
}

const resultMembers = ['txn', 'leaseGranted', 'leaseRevoked', 'lockAcquired', 'lockQueued', 'lockReleased', 'compacted', 'refused', 'restored'] as const

function fromResultMessage (message: galaxy.StoreResult.$Properties): StoreResult {
  const member = oneMember(message, resultMembers, 'result')
  switch (member) {
    case 'txn': {
      const txn = present(message.txn, 'txn')
      const gets = (txn.gets ?? []).map(get => get.kv === null || get.kv === undefined ? null : fromKeyValueMessage(get.kv))
      return { type: 'txn', revision: integer(txn.revision, 'revision'), succeeded: txn.succeeded === true, gets }
    }
    case 'leaseGranted': {
      const granted = present(message.leaseGranted, 'leaseGranted')
      return { type: 'leaseGranted', lease: integer(granted.lease, 'lease') as LeaseId, ttlMs: integer(granted.ttlMs, 'ttlMs') }
    }
    case 'leaseRevoked': {
      const revoked = present(message.leaseRevoked, 'leaseRevoked')
      return { type: 'leaseRevoked', lease: integer(revoked.lease, 'lease') as LeaseId, revision: integer(revoked.revision, 'revision') }
    }
    case 'lockAcquired': {
      const acquired = present(message.lockAcquired, 'lockAcquired')
      return { type: 'lockAcquired', name: textOf(acquired.name), token: integer(acquired.token, 'token') }
    }
    case 'lockQueued': {
      const queued = present(message.lockQueued, 'lockQueued')
      return { type: 'lockQueued', name: textOf(queued.name), position: integer(queued.position, 'position') }
    }
    case 'lockReleased': {
      const released = present(message.lockReleased, 'lockReleased')
      return { type: 'lockReleased', name: textOf(released.name), revision: integer(released.revision, 'revision') }
    }
    case 'compacted': return { type: 'compacted', revision: integer(present(message.compacted, 'compacted').revision, 'revision') }
    case 'restored': return { type: 'restored', revision: integer(present(message.restored, 'restored').revision, 'revision') }
    case 'refused': {
      const refused = present(message.refused, 'refused')
      const reason = textOf(refused.reason)
      if (!isName(refusals, reason)) return fail(`refusal reason ${JSON.stringify(reason)} is unknown`)
      return { type: 'refused', reason, detail: textOf(refused.detail) }
    }
  }
}

/** The wire's type of a put in store data that takes the value its key holds there. */
const putOfKey = 'putOfKey'

/** Stands for the value of an event's key until `withKeyValues` puts it there (`putOfKey`). */
const valueOfKey = new Uint8Array(0)

/** A watch event; one inside store data (`inData`) may be a `putOfKey` (`valueOfKey` here). */
function fromEventMessage (message: galaxy.WatchEvent.$Properties, inData = false): WatchEvent {
  const type = textOf(message.type)
  const revision = integer(message.revision, 'revision')
  const key = textOf(message.key)
  const value = bytesOf(message.value)
  const version = integer(message.version, 'version')
  if (type === putOfKey && inData) {
    if (value.byteLength > 0) fail(`event at ${revision} takes its key's value but has one of its own`)
    return { type: 'put', revision, key, value: valueOfKey, version }
  }
  if (!isName(eventTypes, type)) return fail(`event type ${JSON.stringify(type)} is not put or delete`)
  return { type, revision, key, value, version }
}

/** Store data whose events that take their key's value have it. */
function withKeyValues (data: StoreData): StoreData {
  if (!data.kv.history.some(event => event.value === valueOfKey)) return data
  const keys = keysByName(data.kv.keys)
  const history = data.kv.history.map(event => {
    if (event.value !== valueOfKey) return event
    const kv = keys.get(event.key)
    if (kv === undefined) return fail(`store data: event at ${event.revision} takes the value of key ${JSON.stringify(event.key)}, which is not there`)
    return { ...event, value: kv.value }
  })
  return { ...data, kv: { ...data.kv, history } }
}

function fromLockMessage (message: galaxy.LockState.$Properties): LockState {
  const holder = message.holder
  return {
    name: textOf(message.name),
    holder: holder === null || holder === undefined ? null : { owner: textOf(holder.owner), lease: integer(holder.lease, 'lease') as LeaseId, token: integer(holder.token, 'token') },
    waiters: (message.waiters ?? []).map(waiter => ({ owner: textOf(waiter.owner), lease: integer(waiter.lease, 'lease') as LeaseId }))
  }
}

/** StoreData, checked whole: `checkStoreData` says whether a store could be in this state. */
function fromDataMessage (message: galaxy.StoreData.$Properties): StoreData {
  const parts = message.parts ?? []
  if (parts.length > 0) {
    if (message.kv != null || (message.leases ?? []).length > 0 || (message.locks ?? []).length > 0 || (message.sessions ?? []).length > 0) fail('store data: parts and fields at once')
    return checked(withKeyValues(joinParts(parts.map(part => {
      const decoded = galaxy.StoreData.decode(part)
      if ((decoded.parts ?? []).length > 0) fail('store data: a part with parts')
      return fromDataFields(decoded)
    }))))
  }
  return checked(withKeyValues(fromDataFields(message)))
}

function checked (data: StoreData): StoreData {
  const invalid = checkStoreData(data)
  if (invalid !== undefined) fail(`store data: ${invalid}`)
  return data
}

/** The parts of store data as one: the revisions of the first, the lists of all in order. */
function joinParts (parts: readonly StoreData[]): StoreData {
  const first = parts[0] as StoreData
  return {
    kv: { revision: first.kv.revision, compactRevision: first.kv.compactRevision, keys: parts.flatMap(part => part.kv.keys), history: parts.flatMap(part => part.kv.history) },
    leases: parts.flatMap(part => part.leases),
    locks: parts.flatMap(part => part.locks),
    sessions: parts.flatMap(part => part.sessions)
  }
}

/** Store data as the message holds it, not yet checked as a whole. */
function fromDataFields (message: galaxy.StoreData.$Properties): StoreData {
  const kv = present(message.kv, 'kv')
  return {
    kv: {
      revision: integer(kv.revision, 'revision'),
      compactRevision: integer(kv.compactRevision, 'compactRevision'),
      keys: (kv.keys ?? []).map(fromKeyValueMessage),
      history: (kv.history ?? []).map(event => fromEventMessage(event, true))
    },
    leases: (message.leases ?? []).map(lease => ({ id: integer(lease.id, 'lease') as LeaseId, ttlMs: integer(lease.ttlMs, 'ttlMs') })),
    locks: (message.locks ?? []).map(fromLockMessage),
    sessions: (message.sessions ?? []).map(session => ({
      client: textOf(session.client),
      sequence: integer(session.sequence, 'sequence'),
      result: fromResultMessage(present(session.result, 'session result')),
      lastIndex: integer(session.lastIndex, 'lastIndex')
    }))
  }
}

/** Runs a decoder; whatever goes wrong — in protobufjs or in a check — comes out as a DecodeError. */
function decoding<T> (what: string, bytes: Uint8Array, decode: (bytes: Uint8Array) => T): T {
  try {
    return decode(bytes)
  } catch (error) {
    if (error instanceof DecodeError) throw error
    throw new DecodeError(`store codec: ${what} is malformed`, { cause: error })
  }
}

/**
 * Protobuf encodings of the store's records (proto/galaxy/store.proto): the `SessionCommand` a
 * Raft log entry carries, the `StoreResult` it is answered with, watch events and keys, and the
 * whole `StoreData` of a snapshot. Every decode either returns a complete, valid record — one
 * that encodes again — or throws `DecodeError`, and never anything else. Encoding integers
 * outside [0, 2^53), or store data that `checkStoreData` refuses, fails an assert: commands are
 * checked before they are proposed, so whatever is encoded decodes.
 */
export const storeCodec = {
  encodeCommand (command: SessionCommand): Uint8Array {
    const pooled = galaxy.SessionCommand.encode({ client: command.client, sequence: count(command.sequence, 'sequence'), command: toCommandMessage(command.command) }).finish()
    // finish() hands back a view into Node's 8 KiB Buffer pool, shared with whatever else was
    // allocated meanwhile (request bodies, replies), so whoever keeps the bytes keeps a whole slab
    // alive: when log entries were these bytes, 50,000 of them held 63 MiB of slabs on a leader.
    // The log now keeps copies of its own (byte-arena.ts), but a proposal keeps its bytes until it
    // applies or times out, however long a cluster without a leader makes that. A copy of its own
    // size keeps only the command.
    return new Uint8Array(pooled)
  },
  decodeCommand (bytes: Uint8Array): SessionCommand {
    return decoding('session command', bytes, input => {
      const message = galaxy.SessionCommand.decode(input)
      return { client: textOf(message.client), sequence: integer(message.sequence, 'sequence'), command: fromCommandMessage(present(message.command, 'command')) }
    })
  },
  encodeResult (result: StoreResult): Uint8Array {
    return galaxy.StoreResult.encode(toResultMessage(result)).finish()
  },
  decodeResult (bytes: Uint8Array): StoreResult {
    return decoding('result', bytes, input => fromResultMessage(galaxy.StoreResult.decode(input)))
  },
  encodeData (data: StoreData): Uint8Array {
    return galaxy.StoreData.encode(toDataMessage(data)).finish()
  },
  /**
   * The same data in parts of at most `partItems` keys, events, leases, locks and sessions, and
   * of about `partBytes` of keys and values at most (a single larger item is a part alone),
   * awaiting `pause()` after each step: a node encodes its snapshot (34 MiB and 300 ms of CPU at
   * 100,000 keys and 110,000 events of 256-byte values) a part at a time instead of stalling (a
   * fraction of a millisecond at the replica's sizes). So are the check before (50 ms) and the
   * copy of the parts into one buffer after (100 ms, most of it the first touch of the new pages).
   * `data` must not change meanwhile (`StoreStateMachine.toData` answers a copy of immutable
   * records). Decodes as `encodeData` does.
   */
  async encodeDataInParts (data: StoreData, options: { readonly partItems: number, readonly partBytes?: number, readonly pause: () => Promise<void> }): Promise<Uint8Array> {
    assert(Number.isSafeInteger(options.partItems) && options.partItems > 0, 'store codec: parts need a positive size', { partItems: options.partItems })
    const partBytes = options.partBytes ?? Number.POSITIVE_INFINITY
    assert(partBytes > 0, 'store codec: parts need a positive size', { partBytes })
    const checking = checkStoreDataInSteps(data)
    let step = checking.next()
    while (step.done !== true) {
      await options.pause()
      step = checking.next()
    }
    assert(step.value === undefined, 'store codec: store data no store could hold', { invalid: step.value })
    const parts: Uint8Array[] = []
    // The keys by name, gathered part by part: all of them come before the first event.
    const keys = new Map<string, KeyValue>()
    const lists = [data.kv.keys, data.kv.history, data.leases, data.locks, data.sessions] as const
    // Item i of the five lists laid end to end: where each list starts, and how many in all.
    const offsets = lists.map((_, i) => lists.slice(0, i).reduce((sum, list) => sum + list.length, 0))
    const total = lists.reduce((sum, list) => sum + list.length, 0)
    // About what item `index` weighs in a part: its key and value (a key's or an event's), or a
    // small record.
    const keyCount = data.kv.keys.length
    const itemBytes = (index: number): number => {
      const item = index < keyCount ? data.kv.keys[index] : data.kv.history[index - keyCount]
      return item === undefined ? smallRecordBytes : item.key.length + item.value.byteLength
    }
    let start = 0
    do {
      // Up to `partItems` items, and no further than `partBytes` unless the part is one item.
      let end = start
      let bytes = 0
      while (end < total && end - start < options.partItems) {
        const next = itemBytes(end)
        if (end > start && bytes + next > partBytes) break
        bytes += next
        end++
      }
      const slice = <T>(list: readonly T[], offset: number): T[] => list.slice(Math.max(0, start - offset), Math.max(0, end - offset))
      const part: StoreData = {
        kv: { revision: data.kv.revision, compactRevision: data.kv.compactRevision, keys: slice(data.kv.keys, offsets[0] as number), history: slice(data.kv.history, offsets[1] as number) },
        leases: slice(data.leases, offsets[2] as number),
        locks: slice(data.locks, offsets[3] as number),
        sessions: slice(data.sessions, offsets[4] as number)
      }
      for (const kv of part.kv.keys) keys.set(kv.key, kv)
      parts.push(galaxy.StoreData.encode(toDataMessageUnchecked(part, keys)).finish())
      await options.pause()
      start = end
    } while (start < total)
    return await encodePartsPaced(parts, options.pause)
  },
  decodeData (bytes: Uint8Array): StoreData {
    return decoding('store data', bytes, input => fromDataMessage(galaxy.StoreData.decode(input)))
  },
  encodeWatchEvent (event: WatchEvent): Uint8Array {
    return galaxy.WatchEvent.encode(toEventMessage(event)).finish()
  },
  decodeWatchEvent (bytes: Uint8Array): WatchEvent {
    return decoding('watch event', bytes, input => fromEventMessage(galaxy.WatchEvent.decode(input)))
  },
  encodeKeyValue (kv: KeyValue): Uint8Array {
    return galaxy.KeyValue.encode(toKeyValueMessage(kv)).finish()
  },
  decodeKeyValue (bytes: Uint8Array): KeyValue {
    return decoding('key value', bytes, input => fromKeyValueMessage(galaxy.KeyValue.decode(input)))
  }
}

/** What a lease, lock or session weighs when parts are bounded in bytes (they carry no values). */
const smallRecordBytes = 64

/** StoreData's field `repeated bytes parts = 5`. */
const partsField = 5

/**
 * How many bytes `encodePartsPaced` copies between two pauses: a step of well under a
 * millisecond, like the parts of `replicaLimits.snapshotPartItems`. Copying into the snapshot's new
 * buffer touches its pages for the first time: on a loaded member 4 MiB at once held the event loop
 * 14 ms at the median (up to 46 ms), 1 MiB 4 ms; 128 KiB is about half a millisecond.
 */
const copyBytesPerPause = 128 * 1024

/**
 * `StoreData { parts }` on the wire: each part after its field tag and length, copied into one
 * buffer at most `copyBytesPerPause` at a time, awaiting `pause()` in between. protobufjs's
 * encoder copies tens of megabytes three times slower, all of it while the event loop waits (a
 * snapshot at 100,000 keys is ~35 MB).
 */
async function encodePartsPaced (parts: readonly Uint8Array[], pause: () => Promise<void>): Promise<Uint8Array> {
  const pieces: Uint8Array[] = []
  for (const part of parts) pieces.push(fieldHeader(partsField, part.byteLength), part)
  const bytes = Buffer.allocUnsafe(pieces.reduce((sum, piece) => sum + piece.byteLength, 0))
  let offset = 0
  let sincePause = 0
  for (const piece of pieces) {
    // A part of large values is itself megabytes: it is copied in slices too.
    for (let start = 0; start < piece.byteLength;) {
      const end = Math.min(piece.byteLength, start + copyBytesPerPause - sincePause)
      bytes.set(piece.subarray(start, end), offset)
      offset += end - start
      sincePause += end - start
      start = end
      if (sincePause >= copyBytesPerPause) {
        sincePause = 0
        await pause()
      }
    }
  }
  return bytes
}

/** The tag of a length-delimited field and the length, as protobuf writes them. */
function fieldHeader (field: number, length: number): Uint8Array {
  return protobuf.Writer.create().uint32((field << 3) | 2).uint32(length).finish()
}
