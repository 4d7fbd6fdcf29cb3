import test from 'ava'
import { AssertionError } from '../../src/lib/assert.js'
import { randomInt, SeededRng, type Rng } from '../../src/lib/rng.js'
import { DecodeError } from '../../src/node/decode-error.js'
import { storeCodec } from '../../src/node/store-codec.js'
import { galaxy } from '../../src/proto/gen/store.js'
import { StoreStateMachine, type StoreData } from '../../src/store/state-machine.js'
import type { LeaseId, SessionCommand, StoreCommand, StoreRefusal, StoreResult, TxnOp } from '../../src/store/types.js'

const bytes = (value: string): Uint8Array => new TextEncoder().encode(value)
const lease = (id: number): LeaseId => id as LeaseId

/** A store with a lease, keys (one under the lease), a held lock with a waiter, history and sessions. */
function sampleMachine (): StoreStateMachine {
  const sm = new StoreStateMachine()
  const commands: StoreCommand[] = [
    { type: 'leaseGrant', lease: lease(1), ttlMs: 5000 },
    { type: 'leaseGrant', lease: lease(2), ttlMs: 9000 },
    { type: 'txn', compares: [], success: [{ type: 'put', key: 'a', value: bytes('1') }, { type: 'put', key: 'b', value: bytes('2'), lease: 1 }], failure: [] },
    { type: 'txn', compares: [], success: [{ type: 'put', key: 'a', value: new Uint8Array([0, 255, 7]) }], failure: [] },
    { type: 'txn', compares: [], success: [{ type: 'put', key: 'gone', value: bytes('x') }], failure: [] },
    { type: 'txn', compares: [], success: [{ type: 'delete', key: 'gone' }], failure: [] },
    { type: 'lockAcquire', name: 'db', lease: lease(1), owner: 'x' },
    { type: 'lockAcquire', name: 'db', lease: lease(2), owner: 'y' },
    { type: 'txn', compares: [{ target: 'version', key: 'a', op: '>', value: 0 }], success: [{ type: 'get', key: 'a' }, { type: 'get', key: 'none' }], failure: [] },
    { type: 'compact', revision: 2 }
  ]
  commands.forEach((command, i) => sm.apply(i + 1, { client: `c${i % 3}`, sequence: Math.floor(i / 3) + 1, command }))
  return sm
}

const sampleData = (): StoreData => sampleMachine().toData()

/** One of every command, with edge values. */
function sampleCommands (): SessionCommand[] {
  const commands: StoreCommand[] = [
    {
      type: 'txn',
      compares: [
        { target: 'value', key: 'k', op: '=', value: bytes('v') },
        { target: 'value', key: 'k', op: '!=', value: new Uint8Array() },
        { target: 'version', key: 'k', op: '<', value: 0 },
        { target: 'createRevision', key: 'k', op: '>', value: -3 },
        { target: 'modRevision', key: '', op: '=', value: Number.MAX_SAFE_INTEGER }
      ],
      success: [
        { type: 'put', key: 'k', value: bytes('v') },
        { type: 'put', key: 'k', value: new Uint8Array(), lease: 0 },
        { type: 'put', key: 'ü', value: bytes('v'), lease: 12 },
        { type: 'delete', key: 'k' },
        { type: 'delete', key: 'k/', prefix: true },
        { type: 'delete', key: 'k/', prefix: false }
      ],
      failure: [{ type: 'get', key: 'k' }]
    },
    { type: 'txn', compares: [], success: [], failure: [] },
    { type: 'leaseGrant', lease: lease(7), ttlMs: 5000 },
    { type: 'leaseGrant', lease: lease(0), ttlMs: 0 },
    { type: 'leaseRevoke', lease: lease(7) },
    { type: 'leaseExpire', lease: lease(2 ** 40) },
    { type: 'lockAcquire', name: 'db', lease: lease(7), owner: 'me' },
    { type: 'lockAcquire', name: '', lease: lease(0), owner: '' },
    { type: 'lockRelease', name: 'db', owner: 'me' },
    { type: 'compact', revision: 0 },
    { type: 'compact', revision: 42 },
    { type: 'restore', data: sampleData() },
    { type: 'restore', data: new StoreStateMachine().toData() }
  ]
  return commands.map((command, i) => i % 2 === 0 ? { client: `client-${i}`, sequence: i + 1, command } : { client: '', sequence: 0, command })
}

/** One of every result, and every refusal. */
function sampleResults (): StoreResult[] {
  const kv = { key: 'a', value: bytes('v'), createRevision: 1, modRevision: 3, version: 2, lease: 0 }
  const reasons: StoreRefusal[] = ['leaseNotFound', 'leaseExists', 'badRequest', 'notHolder', 'staleSequence', 'compacted', 'futureRevision', 'limit']
  return [
    { type: 'txn', revision: 3, succeeded: true, gets: [kv, null, { ...kv, key: '', value: new Uint8Array(), lease: 4 }] },
    { type: 'txn', revision: 0, succeeded: false, gets: [] },
    { type: 'leaseGranted', lease: lease(7), ttlMs: 5000 },
    { type: 'leaseRevoked', lease: lease(7), revision: 9 },
    { type: 'lockAcquired', name: 'db', token: 12 },
    { type: 'lockQueued', name: 'db', position: 2 },
    { type: 'lockReleased', name: 'db', revision: 13 },
    { type: 'compacted', revision: 10 },
    { type: 'restored', revision: 14 },
    ...reasons.map((reason): StoreResult => ({ type: 'refused', reason, detail: `because ${reason}` }))
  ]
}

test('every command round-trips', t => {
  for (const command of sampleCommands()) t.deepEqual(storeCodec.decodeCommand(storeCodec.encodeCommand(command)), command, command.command.type)
})

test('every result round-trips', t => {
  for (const result of sampleResults()) t.deepEqual(storeCodec.decodeResult(storeCodec.encodeResult(result)), result, result.type)
})

test('watch events and keys round-trip', t => {
  const events = [
    { type: 'put' as const, revision: 4, key: 'k', value: bytes('v'), version: 2 },
    { type: 'delete' as const, revision: 5, key: 'k', value: new Uint8Array(), version: 0 }
  ]
  for (const event of events) t.deepEqual(storeCodec.decodeWatchEvent(storeCodec.encodeWatchEvent(event)), event)
  const kv = { key: 'k', value: new Uint8Array([1, 2, 3]), createRevision: 1, modRevision: 2 ** 53 - 1, version: 9, lease: 3 }
  t.deepEqual(storeCodec.decodeKeyValue(storeCodec.encodeKeyValue(kv)), kv)
})

test('decoded values are plain Uint8Arrays that do not share the input buffer', t => {
  const encoded = storeCodec.encodeKeyValue({ key: 'k', value: bytes('value'), createRevision: 1, modRevision: 1, version: 1, lease: 0 })
  const decoded = storeCodec.decodeKeyValue(Buffer.from(encoded))
  t.is(Object.getPrototypeOf(decoded.value), Uint8Array.prototype)
  encoded.fill(0)
  t.is(new TextDecoder().decode(decoded.value), 'value')
})

test('a machine rebuilt from encoded data answers like the original', t => {
  const original = sampleMachine()
  const data = original.toData()
  const decoded = storeCodec.decodeData(storeCodec.encodeData(data))
  t.deepEqual(decoded, data)
  const rebuilt = StoreStateMachine.fromData(decoded)
  t.deepEqual(rebuilt.get('a'), original.get('a'))
  t.deepEqual(rebuilt.range('', { limit: 100 }), original.range('', { limit: 100 }))
  t.deepEqual(rebuilt.lock('db'), original.lock('db'))
  t.deepEqual(rebuilt.watch('', 3, 100), original.watch('', 3, 100))
  t.deepEqual(rebuilt.watch('', 1, 100), original.watch('', 1, 100))
  t.deepEqual(rebuilt.leaseList(), original.leaseList())
  // And goes on the same: retries are answered from the session, new commands the same way.
  const next: SessionCommand[] = [
    { client: 'c0', sequence: 4, command: { type: 'compact', revision: 2 } },
    { client: 'c1', sequence: 4, command: { type: 'leaseRevoke', lease: lease(1) } },
    { client: 'c2', sequence: 4, command: { type: 'lockRelease', name: 'db', owner: 'y' } }
  ]
  next.forEach((command, i) => t.deepEqual(rebuilt.apply(11 + i, command), original.apply(11 + i, command)))
  t.deepEqual(rebuilt.toData(), original.toData())
})

test('store data encoded in parts decodes to the same data, whatever the part size, pausing after each part', async t => {
  const data = sampleMachine().toData()
  const items = data.kv.keys.length + data.kv.history.length + data.leases.length + data.locks.length + data.sessions.length
  t.true(items > 8)
  for (const partItems of [1, 2, 3, 7, items - 1, items, items + 5]) {
    let pauses = 0
    const bytes = await storeCodec.encodeDataInParts(data, { partItems, pause: async () => { pauses++ } })
    t.is(pauses, Math.ceil(items / partItems), `${partItems} items a part`)
    t.deepEqual(storeCodec.decodeData(bytes), data, `${partItems} items a part`)
    // Byte for byte what protobufjs writes for the same parts.
    const parts = galaxy.StoreData.decode(bytes).parts
    t.true(Buffer.from(bytes).equals(Buffer.from(galaxy.StoreData.encode({ parts }).finish())), `${partItems} items a part`)
    if (partItems >= items) t.true((parts[0]?.byteLength ?? 0) > 127, 'a part long enough for a two-byte length')
  }
  const empty = new StoreStateMachine().toData()
  t.deepEqual(storeCodec.decodeData(await storeCodec.encodeDataInParts(empty, { partItems: 10, pause: async () => {} })), empty)
})

test('a large state is also checked and copied between pauses, not only encoded', async t => {
  // 3,000 keys of 4 KiB, written twice: 6,000 events, 36 MiB of values to copy into one buffer.
  const machine = new StoreStateMachine()
  const value = new Uint8Array(4096).fill(7)
  for (let i = 0; i < 6000; i++) {
    machine.apply(i + 1, { client: '', sequence: 0, command: { type: 'txn', compares: [], success: [{ type: 'put', key: `k${i % 3000}`, value }], failure: [] } })
  }
  const data = machine.toData()
  const parts = Math.ceil((data.kv.keys.length + data.kv.history.length) / 1000)
  let pauses = 0
  const encoded = await storeCodec.encodeDataInParts(data, { partItems: 1000, pause: async () => { pauses++ } })
  t.true(pauses > parts, `${pauses} pauses for ${parts} parts`)
  // Checked a thousand items at a time, then copied 128 KiB at a time at most.
  const checks = Math.floor((data.kv.keys.length + data.kv.history.length) / 1000)
  const copyStep = 128 * 1024
  t.true(pauses - parts - checks >= Math.floor(encoded.byteLength / copyStep), `${pauses} pauses for ${parts} parts, ${checks} checks and ${(encoded.byteLength / copyStep).toFixed(1)} copy steps`)
  t.deepEqual(storeCodec.decodeData(encoded), data)
})

test('store data parts are bounded in bytes too: large values make parts of fewer items, and a value past the bound is a part alone', async t => {
  const machine = new StoreStateMachine()
  const put = (key: string, size: number): TxnOp => ({ type: 'put', key, value: new Uint8Array(size).fill(7) })
  // 40 keys of 4 KiB, then one of 100 KiB: under a 16 KiB bound, parts of 3 keys and the big one alone.
  for (let i = 0; i < 40; i++) machine.apply(i + 1, { client: '', sequence: 0, command: { type: 'txn', compares: [], success: [put(`k${i}`, 4096)], failure: [] } })
  machine.apply(41, { client: '', sequence: 0, command: { type: 'txn', compares: [], success: [put('big', 100 * 1024)], failure: [] } })
  const data = machine.toData()
  const partBytes = 16 * 1024
  const encoded = await storeCodec.encodeDataInParts(data, { partItems: 1000, partBytes, pause: async () => {} })
  t.deepEqual(storeCodec.decodeData(encoded), data)
  const parts = galaxy.StoreData.decode(encoded).parts.map(part => galaxy.StoreData.decode(part).kv?.keys?.map(kv => `${kv.key ?? ''}:${kv.value?.byteLength ?? 0}`) ?? [])
  const keyParts = parts.filter(keys => keys.length > 0)
  t.deepEqual(keyParts.find(keys => keys.some(key => key.startsWith('big:'))), ['big:102400'])
  t.true(keyParts.every(keys => keys.length <= 3), keyParts.map(keys => keys.length).join(' '))
  t.is(keyParts.flat().length, 41)
  // Without the bound, the same data is a part of 1,000 items (the keys and their 41 events).
  const unbounded = await storeCodec.encodeDataInParts(data, { partItems: 1000, pause: async () => {} })
  t.is(galaxy.StoreData.decode(unbounded).parts.length, 1)
})

test('store data carries a value once when an event wrote what its key still holds', async t => {
  const machine = new StoreStateMachine()
  const put = (key: string, value: string): TxnOp => ({ type: 'put', key, value: bytes(value) })
  const txns: TxnOp[][] = [
    [put('a', 'old')], [put('b', 'kept')], [put('a', 'new')], [put('c', '')],
    [put('d', 'first'), put('d', 'second')], // one revision, two values: only the second is the key's
    [put('e', 'gone')], [{ type: 'delete', key: 'c' }], [{ type: 'delete', key: 'e' }]
  ]
  txns.forEach((success, i) => machine.apply(i + 1, { client: '', sequence: 0, command: { type: 'txn', compares: [], success, failure: [] } }))
  const live = machine.toData()
  const expected = ['a:old', 'b:key', 'a:key', 'c:', 'd:first', 'd:key', 'e:gone', 'c:', 'e:']
  // An event whose value equals its key's but is another array (as after an older snapshot) counts too.
  const data: StoreData = { ...live, kv: { ...live.kv, history: live.kv.history.map(event => ({ ...event, value: Uint8Array.from(event.value) })) } }
  const shared = (encoded: galaxy.KeyStoreData.$Properties | null | undefined): string[] => (encoded?.history ?? []).map(event => `${event.key ?? ''}:${event.type === 'putOfKey' ? 'key' : new TextDecoder().decode(event.value ?? new Uint8Array())}`)
  const whole = storeCodec.encodeData(data)
  t.deepEqual(shared(galaxy.StoreData.decode(whole).kv), expected)
  t.deepEqual(storeCodec.decodeData(whole), data)
  // In parts of one item, the keys and the events that take their values are in different parts.
  const inParts = await storeCodec.encodeDataInParts(data, { partItems: 1, pause: async () => {} })
  t.deepEqual(galaxy.StoreData.decode(inParts).parts.flatMap(part => shared(galaxy.StoreData.decode(part).kv)), expected)
  t.deepEqual(storeCodec.decodeData(inParts), data)
  // A snapshot written before events could take their key's value decodes as it did.
  const older = galaxy.StoreData.encode({ kv: { ...data.kv, keys: [...data.kv.keys], history: [...data.kv.history] } }).finish()
  t.true(older.byteLength > whole.byteLength)
  t.deepEqual(storeCodec.decodeData(older), data)
})

test('an event taking the value of its key where it cannot is refused with DecodeError', t => {
  const data = (history: galaxy.WatchEvent.$Properties[]): Uint8Array => galaxy.StoreData.encode({
    kv: { revision: 3, compactRevision: 0, keys: [{ key: 'k', value: bytes('v'), createRevision: 1, modRevision: 1, version: 1 }], history }
  }).finish()
  t.deepEqual(storeCodec.decodeData(data([{ type: 'putOfKey', revision: 1, key: 'k', version: 1 }])).kv.history, [{ type: 'put', revision: 1, key: 'k', value: bytes('v'), version: 1 }])
  rejects(t, () => storeCodec.decodeData(data([{ type: 'putOfKey', revision: 2, key: 'gone', version: 1 }])), 'the value of a key that is not there')
  rejects(t, () => storeCodec.decodeData(data([{ type: 'putOfKey', revision: 2, key: 'k', value: bytes('v'), version: 2 }])), 'a value and its key\'s value')
  rejects(t, () => storeCodec.decodeWatchEvent(galaxy.WatchEvent.encode({ type: 'putOfKey', revision: 1, key: 'k', version: 1 }).finish()), 'a key\'s value outside store data')
})

test('parts next to fields, or parts inside a part, are refused with DecodeError', t => {
  const part = storeCodec.encodeData(new StoreStateMachine().toData())
  t.throws(() => storeCodec.decodeData(galaxy.StoreData.encode({ parts: [part], leases: [{ id: 1, ttlMs: 1000 }] }).finish()), { instanceOf: DecodeError, message: /parts and fields/ })
  const nested = galaxy.StoreData.encode({ parts: [part] }).finish()
  t.throws(() => storeCodec.decodeData(galaxy.StoreData.encode({ parts: [nested] }).finish()), { instanceOf: DecodeError, message: /a part with parts/ })
  t.throws(() => storeCodec.decodeData(galaxy.StoreData.encode({ parts: [Uint8Array.of(0xff, 0xff)] }).finish()), { instanceOf: DecodeError })
})

test('an empty store round-trips', t => {
  const data = new StoreStateMachine().toData()
  t.deepEqual(storeCodec.decodeData(storeCodec.encodeData(data)), data)
})

/** Expects `decode` to throw a DecodeError (and nothing else). */
function rejects (t: { true: (value: boolean, message?: string) => void, is: (a: unknown, b: unknown, message?: string) => void }, decode: () => unknown, why: string): void {
  try {
    decode()
    t.true(false, `${why}: decoded`)
  } catch (error) {
    t.true(error instanceof DecodeError, `${why}: ${String(error)}`)
    t.is((error as DecodeError).code, 'ERR_DECODE', why)
  }
}

test('structurally wrong records are refused with DecodeError', t => {
  const command = (message: galaxy.SessionCommand.$Properties): Uint8Array => galaxy.SessionCommand.encode(message).finish()
  const txn = (message: galaxy.Txn.$Properties): Uint8Array => command({ client: 'c', sequence: 1, command: { txn: message } })
  rejects(t, () => storeCodec.decodeCommand(new Uint8Array()), 'no command')
  rejects(t, () => storeCodec.decodeCommand(command({ client: 'c', command: {} })), 'a command of no known variant')
  // Two members of a oneof on the wire: the last wins (protobuf's rule), so that is not an error.
  t.like(storeCodec.decodeCommand(command({ command: { compact: { revision: 1 }, leaseRevoke: { lease: 1 } } })).command, { type: 'compact' })
  rejects(t, () => storeCodec.decodeCommand(command({ sequence: 2 ** 53, command: { compact: {} } })), 'sequence beyond 2^53')
  rejects(t, () => storeCodec.decodeCommand(txn({ compares: [{ target: 'value', key: 'k', op: '~', bytesValue: bytes('v') }] })), 'unknown op')
  rejects(t, () => storeCodec.decodeCommand(txn({ compares: [{ target: 'lease', key: 'k', op: '=', numberValue: 1 }] })), 'unknown target')
  rejects(t, () => storeCodec.decodeCommand(txn({ compares: [{ target: 'value', key: 'k', op: '=', numberValue: 1 }] })), 'value compared with a number')
  rejects(t, () => storeCodec.decodeCommand(txn({ compares: [{ target: 'version', key: 'k', op: '=', bytesValue: bytes('1') }] })), 'version compared with bytes')
  rejects(t, () => storeCodec.decodeCommand(txn({ compares: [{ target: 'version', key: 'k', op: '=' }] })), 'compare without operand')
  rejects(t, () => storeCodec.decodeCommand(txn({ success: [{ type: 'rename', key: 'k' }] })), 'unknown op type')
  rejects(t, () => storeCodec.decodeCommand(txn({ success: [{ type: 'delete', key: 'k', lease: 3 }] })), 'delete with a lease')
  rejects(t, () => storeCodec.decodeCommand(txn({ failure: [{ type: 'get', key: 'k', value: bytes('x') }] })), 'get with a value')
  rejects(t, () => storeCodec.decodeCommand(txn({ failure: [{ type: 'put', key: 'k', prefix: true }] })), 'put with a prefix')
  rejects(t, () => storeCodec.decodeCommand(command({ command: { restore: { leases: [] } } })), 'restore without kv')
  rejects(t, () => storeCodec.decodeResult(galaxy.StoreResult.encode({ refused: { reason: 'tired', detail: '' } }).finish()), 'unknown refusal')
  rejects(t, () => storeCodec.decodeResult(galaxy.StoreResult.encode({}).finish()), 'no result')
  rejects(t, () => storeCodec.decodeWatchEvent(galaxy.WatchEvent.encode({ type: 'touch', revision: 1 }).finish()), 'unknown event type')
  rejects(t, () => storeCodec.decodeKeyValue(new Uint8Array([0x0a, 0x02, 0xff, 0xfe])), 'a key that is not UTF-8')
  rejects(t, () => storeCodec.decodeKeyValue(new Uint8Array([0x0a, 0x05, 0x61])), 'truncated')
})

test('store data no store could hold is refused with DecodeError', t => {
  const data = sampleData()
  // The encoder refuses such data, so write it with the generated code, bypassing the check.
  const encoded = (value: StoreData): Uint8Array => galaxy.StoreData.encode({
    kv: { ...value.kv, keys: [...value.kv.keys], history: [...value.kv.history] },
    leases: [...value.leases],
    locks: value.locks.map(lock => ({ name: lock.name, holder: lock.holder, waiters: [...lock.waiters] })),
    sessions: value.sessions.map(session => ({ ...session, result: galaxy.StoreResult.decode(storeCodec.encodeResult(session.result)) }))
  }).finish()
  t.deepEqual(storeCodec.decodeData(encoded(data)), data, 'the bypass encodes valid data the same way')
  const [first] = data.kv.keys
  if (first === undefined) throw new Error('sample has keys')
  rejects(t, () => storeCodec.decodeData(encoded({ ...data, kv: { ...data.kv, keys: [first, first] } })), 'a repeated key')
  const reordered = { ...data, kv: { ...data.kv, keys: [...data.kv.keys].reverse() } }
  t.deepEqual(storeCodec.decodeData(encoded(reordered)), reordered, 'keys come in any order')
  rejects(t, () => storeCodec.decodeData(encoded({ ...data, leases: [] })), 'a key and a lock under a missing lease')
  rejects(t, () => storeCodec.decodeData(encoded({ ...data, kv: { ...data.kv, compactRevision: data.kv.revision + 1 } })), 'compacted past the revision')
  rejects(t, () => storeCodec.decodeData(encoded({ ...data, kv: { ...data.kv, revision: 1 } })), 'keys written after the revision')
  rejects(t, () => storeCodec.decodeData(encoded({ ...data, sessions: [...data.sessions].reverse() })), 'sessions out of order')
})

test('encoding an integer the wire cannot hold is a caller bug', t => {
  t.throws(() => storeCodec.encodeCommand({ client: 'c', sequence: -1, command: { type: 'compact', revision: 1 } }), { instanceOf: AssertionError })
  t.throws(() => storeCodec.encodeCommand({ client: 'c', sequence: 1, command: { type: 'leaseGrant', lease: lease(1), ttlMs: 1.5 } }), { instanceOf: AssertionError })
  t.throws(() => storeCodec.encodeResult({ type: 'compacted', revision: 2 ** 53 }), { instanceOf: AssertionError })
  t.throws(() => storeCodec.encodeData({ ...sampleData(), leases: [] }), { instanceOf: AssertionError })
  t.throws(() => storeCodec.encodeCommand({ client: '', sequence: 0, command: { type: 'restore', data: { ...sampleData(), leases: [] } } }), { instanceOf: AssertionError })
})

interface Decoder {
  readonly name: string
  /** Decodes, encodes what came out and decodes that again: it must be the same record. */
  readonly roundTrip: (input: Uint8Array) => { first: unknown, second: unknown }
  readonly samples: readonly Uint8Array[]
}

function decoder<T> (name: string, decode: (input: Uint8Array) => T, encode: (value: T) => Uint8Array, samples: readonly T[]): Decoder {
  return {
    name,
    roundTrip: input => {
      const first = decode(input)
      return { first, second: decode(encode(first)) }
    },
    samples: samples.map(encode)
  }
}

const decoders: readonly Decoder[] = [
  decoder('command', storeCodec.decodeCommand, storeCodec.encodeCommand, sampleCommands()),
  decoder('result', storeCodec.decodeResult, storeCodec.encodeResult, sampleResults()),
  decoder('data', storeCodec.decodeData, storeCodec.encodeData, [sampleData()]),
  decoder('event', storeCodec.decodeWatchEvent, storeCodec.encodeWatchEvent, [{ type: 'put', revision: 4, key: 'k', value: bytes('v'), version: 2 }]),
  decoder('kv', storeCodec.decodeKeyValue, storeCodec.encodeKeyValue, [{ key: 'k', value: bytes('v'), createRevision: 1, modRevision: 2, version: 2, lease: 1 }])
]

/** A random mangling of a valid encoding: a truncation, bit flips, or both. */
function mangle (rng: Rng, valid: Uint8Array): Uint8Array {
  // A copy: encodings are Buffers, whose slice shares memory.
  const input = Uint8Array.from(valid.subarray(0, randomInt(rng, 0, 3) === 0 ? randomInt(rng, 0, valid.byteLength + 1) : valid.byteLength))
  if (input.byteLength === 0) return input
  const flips = randomInt(rng, 0, 4)
  for (let i = 0; i < flips; i++) {
    const at = randomInt(rng, 0, input.byteLength)
    input[at] = (input[at] as number) ^ (1 << randomInt(rng, 0, 8))
  }
  return input
}

test('fuzz: random and mangled bytes decode to a record that encodes again, or throw DecodeError', t => {
  const rng = new SeededRng(20_240_611)
  const outcomes = { decoded: 0, refused: 0 }
  const check = (target: Decoder, input: Uint8Array, what: string): void => {
    let roundTrip: { first: unknown, second: unknown }
    try {
      roundTrip = target.roundTrip(input)
    } catch (error) {
      if (!(error instanceof DecodeError)) t.fail(`${target.name} ${what} [${input.join(',')}]: ${String(error)}`)
      outcomes.refused++
      return
    }
    outcomes.decoded++
    t.deepEqual(roundTrip.second, roundTrip.first, `${target.name} ${what} [${input.join(',')}]`)
  }
  for (let i = 0; i < 5000; i++) {
    const target = decoders[i % decoders.length] as Decoder
    const random = Uint8Array.from({ length: randomInt(rng, 0, 48) }, () => randomInt(rng, 0, 256))
    check(target, random, 'random')
    const valid = target.samples[randomInt(rng, 0, target.samples.length)] as Uint8Array
    check(target, mangle(rng, valid), 'mangled')
  }
  t.log(`decoded ${outcomes.decoded}, refused ${outcomes.refused}`)
  t.true(outcomes.decoded > 500 && outcomes.refused > 500, 'both outcomes are exercised')
})

test('an encoded command owns its bytes: a log entry does not keep a shared Buffer pool slab alive', t => {
  for (const size of [1, 256, 2000]) {
    const bytes = storeCodec.encodeCommand({ client: 'n1/boot/1', sequence: 1, command: { type: 'txn', compares: [], success: [{ type: 'put', key: 'k', value: new Uint8Array(size) }], failure: [] } })
    t.is(bytes.byteOffset, 0)
    t.is(bytes.buffer.byteLength, bytes.byteLength, `${size}-byte value`)
  }
})
