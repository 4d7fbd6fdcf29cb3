import test from 'ava'
import { randomInt, SeededRng } from '../../src/lib/rng.js'
import { lockKey, StoreStateMachine, storeLimits } from '../../src/store/state-machine.js'
import type { LeaseId, StoreCommand, StoreResult, TxnOp } from '../../src/store/types.js'

const bytes = (value: string): Uint8Array => new TextEncoder().encode(value)
const text = (value: Uint8Array | undefined): string | undefined => value === undefined ? undefined : new TextDecoder().decode(value)
const lease = (id: number): LeaseId => id as LeaseId

/** A store with a helper that applies commands as one client, sequence after sequence. */
function store (): { sm: StoreStateMachine, run: (command: StoreCommand, client?: string) => StoreResult } {
  const sm = new StoreStateMachine()
  let index = 0
  const sequences = new Map<string, number>()
  return {
    sm,
    run: (command, client = 'c1') => {
      const sequence = (sequences.get(client) ?? 0) + 1
      sequences.set(client, sequence)
      return sm.apply(++index, { client, sequence, command })
    }
  }
}

const put = (key: string, value: string, leaseId = 0): StoreCommand => ({ type: 'txn', compares: [], success: [{ type: 'put', key, value: bytes(value), lease: leaseId }], failure: [] })
const ops = (...success: TxnOp[]): StoreCommand => ({ type: 'txn', compares: [], success, failure: [] })

test('puts version keys under a global revision; reads do not move it', t => {
  const { sm, run } = store()
  t.like(run(put('a', '1')), { type: 'txn', revision: 1, succeeded: true })
  t.like(run(put('a', '2')), { revision: 2 })
  t.like(run(put('b', '1')), { revision: 3 })
  t.like(sm.get('a'), { createRevision: 1, modRevision: 2, version: 2 })
  t.is(text(sm.get('a')?.value), '2')
  const read = run(ops({ type: 'get', key: 'a' }, { type: 'get', key: 'zz' }))
  t.like(read, { revision: 3 })
  t.is(read.type === 'txn' ? read.gets[1] : undefined, null)
  t.is(sm.revision, 3)
})

test('deletes, prefix deletes and paged ranges', t => {
  const { sm, run } = store()
  for (const key of ['app/a', 'app/b', 'app/c', 'apq', 'b']) run(put(key, key))
  const first = sm.range('app/', { limit: 2 })
  t.deepEqual(first.items.map(kv => kv.key), ['app/a', 'app/b'])
  t.true(first.more)
  const second = sm.range('app/', { after: 'app/b', limit: 2 })
  t.deepEqual(second.items.map(kv => kv.key), ['app/c'])
  t.false(second.more)
  t.like(run(ops({ type: 'delete', key: 'app/', prefix: true })), { revision: 6 })
  t.deepEqual(sm.range('', { limit: 10 }).items.map(kv => kv.key), ['apq', 'b'])
  t.like(run(ops({ type: 'delete', key: 'missing' })), { revision: 7 }, 'a write transaction takes a revision even when it finds nothing')
})

test('transactions run one branch on compares of value, version and revisions (create-if-absent, compare-and-swap)', t => {
  const { sm, run } = store()
  const createIfAbsent = (value: string): StoreCommand => ({ type: 'txn', compares: [{ target: 'version', key: 'k', op: '=', value: 0 }], success: [{ type: 'put', key: 'k', value: bytes(value) }], failure: [{ type: 'get', key: 'k' }] })
  t.like(run(createIfAbsent('first')), { succeeded: true })
  const second = run(createIfAbsent('second'))
  t.like(second, { succeeded: false })
  t.is(second.type === 'txn' ? text(second.gets[0]?.value) : undefined, 'first')
  const modRevision = sm.get('k')?.modRevision ?? 0
  const cas = (expected: number, value: string): StoreCommand => ({ type: 'txn', compares: [{ target: 'modRevision', key: 'k', op: '=', value: expected }], success: [{ type: 'put', key: 'k', value: bytes(value) }], failure: [] })
  t.like(run(cas(modRevision, 'swapped')), { succeeded: true })
  t.like(run(cas(modRevision, 'lost')), { succeeded: false })
  t.is(text(sm.get('k')?.value), 'swapped')
  t.like(run({ type: 'txn', compares: [{ target: 'value', key: 'k', op: '>', value: bytes('s') }, { target: 'value', key: 'none', op: '!=', value: bytes('x') }], success: [], failure: [] }), { succeeded: true })
})

test('a retried command applies once and gets the same answer; an older one is refused', t => {
  const sm = new StoreStateMachine()
  const command = put('counter', 'x')
  const first = sm.apply(1, { client: 'a', sequence: 1, command })
  const retry = sm.apply(2, { client: 'a', sequence: 1, command })
  t.deepEqual(retry, first)
  t.is(sm.revision, 1)
  sm.apply(3, { client: 'a', sequence: 2, command: put('counter', 'y') })
  t.like(sm.apply(4, { client: 'a', sequence: 1, command }), { type: 'refused', reason: 'staleSequence' })
  t.is(text(sm.get('counter')?.value), 'y')
})

test('sessions are bounded: the least recently used one is forgotten', t => {
  const sm = new StoreStateMachine()
  let index = 0
  for (let client = 0; client <= storeLimits.sessions; client++) sm.apply(++index, { client: `c${client}`, sequence: 1, command: ops({ type: 'get', key: 'x' }) })
  t.is(sm.toData().sessions.length, storeLimits.sessions)
  t.false(sm.toData().sessions.some(session => session.client === 'c0'))
})

test('a lease takes its keys with it when revoked or expired, at one revision', t => {
  const { sm, run } = store()
  t.like(run({ type: 'leaseGrant', lease: lease(7), ttlMs: 5000 }), { type: 'leaseGranted', lease: 7 })
  t.like(run({ type: 'leaseGrant', lease: lease(7), ttlMs: 5000 }), { type: 'refused', reason: 'leaseExists' })
  t.like(run({ type: 'leaseGrant', lease: lease(8), ttlMs: 10 }), { type: 'refused', reason: 'badRequest' })
  run(put('svc/a', '1', 7))
  run(put('svc/b', '1', 7))
  run(put('svc/c', '1'))
  t.like(run(put('svc/d', '1', 99)), { type: 'refused', reason: 'leaseNotFound' })
  t.is(sm.get('svc/d'), undefined)
  t.like(run({ type: 'leaseExpire', lease: lease(7) }), { type: 'leaseRevoked', lease: 7, revision: 4 })
  t.deepEqual(sm.range('svc/', { limit: 10 }).items.map(kv => kv.key), ['svc/c'])
  const watched = sm.watch('svc/', 4, 10)
  t.deepEqual(watched.compacted ? [] : watched.events.map(e => `${e.type} ${e.key}@${e.revision}`), ['delete svc/a@4', 'delete svc/b@4'])
  t.like(run({ type: 'leaseRevoke', lease: lease(7) }), { type: 'refused', reason: 'leaseNotFound' })
})

test('locks: the holder gets a fencing token, waiters are served in order with higher tokens, and a stale holder cannot write', t => {
  const { sm, run } = store()
  run({ type: 'leaseGrant', lease: lease(1), ttlMs: 5000 })
  run({ type: 'leaseGrant', lease: lease(2), ttlMs: 5000 })
  run({ type: 'leaseGrant', lease: lease(3), ttlMs: 5000 })
  const a = run({ type: 'lockAcquire', name: 'db', lease: lease(1), owner: 'a' })
  t.like(a, { type: 'lockAcquired', name: 'db' })
  const tokenA = a.type === 'lockAcquired' ? a.token : 0
  t.like(run({ type: 'lockAcquire', name: 'db', lease: lease(1), owner: 'a' }), { type: 'lockAcquired', token: tokenA }, 'acquiring again is idempotent')
  t.like(run({ type: 'lockAcquire', name: 'db', lease: lease(2), owner: 'b' }), { type: 'lockQueued', position: 1 })
  t.like(run({ type: 'lockAcquire', name: 'db', lease: lease(3), owner: 'c' }), { type: 'lockQueued', position: 2 })
  // a's lease runs out while it is paused; b takes over with a higher token.
  run({ type: 'leaseExpire', lease: lease(1) })
  const afterExpiry = sm.lock('db')
  t.is(afterExpiry.holder?.owner, 'b')
  t.true((afterExpiry.holder?.token ?? 0) > tokenA)
  // A write guarded by a's token (the lock key's modRevision) is refused; b's goes through.
  const guarded = (token: number, value: string): StoreCommand => ({ type: 'txn', compares: [{ target: 'modRevision', key: lockKey('db'), op: '=', value: token }], success: [{ type: 'put', key: 'data', value: bytes(value) }], failure: [] })
  t.like(run(guarded(tokenA, 'from a')), { succeeded: false })
  t.like(run(guarded(afterExpiry.holder?.token ?? 0, 'from b')), { succeeded: true })
  t.is(text(sm.get('data')?.value), 'from b')
  t.like(run({ type: 'lockRelease', name: 'db', owner: 'a' }), { type: 'refused', reason: 'notHolder' })
  t.like(run({ type: 'lockRelease', name: 'db', owner: 'b' }), { type: 'lockReleased' })
  t.is(sm.lock('db').holder?.owner, 'c')
  t.true((sm.lock('db').holder?.token ?? 0) > (afterExpiry.holder?.token ?? 0))
  run({ type: 'lockRelease', name: 'db', owner: 'c' })
  t.deepEqual(sm.lock('db'), { name: 'db', holder: null, waiters: [] })
  t.is(sm.get(lockKey('db')), undefined)
})

test('a waiter whose lease ends leaves the queue', t => {
  const { sm, run } = store()
  for (const id of [1, 2, 3]) run({ type: 'leaseGrant', lease: lease(id), ttlMs: 5000 })
  run({ type: 'lockAcquire', name: 'l', lease: lease(1), owner: 'a' })
  run({ type: 'lockAcquire', name: 'l', lease: lease(2), owner: 'b' })
  run({ type: 'lockAcquire', name: 'l', lease: lease(3), owner: 'c' })
  run({ type: 'leaseRevoke', lease: lease(2) })
  run({ type: 'lockRelease', name: 'l', owner: 'a' })
  t.is(sm.lock('l').holder?.owner, 'c')
})

test('clients cannot write the store\'s own keys', t => {
  const { run } = store()
  t.like(run(put(lockKey('x'), 'forged')), { type: 'refused', reason: 'badRequest' })
})

test('watchers get changes in order from a revision, and are told when history was compacted', t => {
  const { sm, run } = store()
  for (let i = 1; i <= 6; i++) run(put(i % 2 === 0 ? 'even' : 'odd', String(i)))
  const from3 = sm.watch('', 3, 2)
  t.deepEqual(from3.compacted ? [] : from3.events.map(e => e.revision), [3, 4])
  const evens = sm.watch('even', 1, 10)
  t.deepEqual(evens.compacted ? [] : evens.events.map(e => text(e.value)), ['2', '4', '6'])
  t.like(run({ type: 'compact', revision: 4 }), { type: 'compacted', revision: 4 })
  t.deepEqual(sm.watch('', 2, 10), { compacted: true, compactRevision: 4 })
  const resumed = sm.watch('', 5, 10)
  t.deepEqual(resumed.compacted ? [] : resumed.events.map(e => e.revision), [5, 6])
  t.like(run({ type: 'compact', revision: 99 }), { type: 'refused', reason: 'futureRevision' })
})

/** A random but reproducible mix of every command. */
function randomCommands (seed: number, count: number): StoreCommand[] {
  const rng = new SeededRng(seed)
  const commands: StoreCommand[] = []
  for (let i = 0; i < count; i++) {
    const key = `k${randomInt(rng, 0, 20)}`
    const leaseId = lease(randomInt(rng, 1, 5))
    switch (randomInt(rng, 0, 8)) {
      case 0: commands.push(put(key, String(i), randomInt(rng, 0, 2) === 0 ? 0 : leaseId)); break
      case 1: commands.push(ops({ type: 'delete', key })); break
      case 2: commands.push({ type: 'txn', compares: [{ target: 'version', key, op: '>', value: randomInt(rng, 0, 3) }], success: [{ type: 'put', key, value: bytes('cas') }], failure: [{ type: 'delete', key: 'k', prefix: true }] }); break
      case 3: commands.push({ type: 'leaseGrant', lease: leaseId, ttlMs: 2000 }); break
      case 4: commands.push({ type: 'leaseExpire', lease: leaseId }); break
      case 5: commands.push({ type: 'lockAcquire', name: `l${randomInt(rng, 0, 3)}`, lease: leaseId, owner: `o${randomInt(rng, 0, 4)}` }); break
      case 6: commands.push({ type: 'lockRelease', name: `l${randomInt(rng, 0, 3)}`, owner: `o${randomInt(rng, 0, 4)}` }); break
      default: commands.push(ops({ type: 'get', key }))
    }
  }
  return commands
}

test('a machine restored from a snapshot is indistinguishable from the original', t => {
  const commands = randomCommands(11, 600)
  const original = new StoreStateMachine()
  commands.slice(0, 300).forEach((command, i) => original.apply(i + 1, { client: `c${i % 7}`, sequence: Math.floor(i / 7) + 1, command }))
  const restored = StoreStateMachine.fromData(structuredClone(original.toData()))
  t.deepEqual(restored.toData(), original.toData())
  commands.slice(300).forEach((command, i) => {
    const index = 301 + i
    const envelope = { client: `c${index % 7}`, sequence: Math.floor((index - 1) / 7) + 1, command }
    t.deepEqual(restored.apply(index, envelope), original.apply(index, envelope))
  })
  t.deepEqual(restored.toData(), original.toData())
})

test('fencing tokens of successive holders of a lock strictly increase, whatever the command mix', t => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const sm = new StoreStateMachine()
    const lastToken = new Map<string, number>()
    randomCommands(seed, 2000).forEach((command, i) => {
      sm.apply(i + 1, { client: '', sequence: 0, command })
      for (const name of ['l0', 'l1', 'l2']) {
        const holder = sm.lock(name).holder
        if (holder === null) continue
        const previous = lastToken.get(name) ?? 0
        t.true(holder.token >= previous, `seed ${seed}: ${name} token went back`)
        lastToken.set(name, holder.token)
      }
    })
  }
})

/** A backup: a small store with a lease, keys and a held lock, at a low revision. */
function backupData (): ReturnType<StoreStateMachine['toData']> {
  const { sm, run } = store()
  run({ type: 'leaseGrant', lease: lease(1), ttlMs: 5000 })
  run(put('a', 'from backup', 1))
  run(put('a', 'from backup 2', 1))
  run(put('b', 'b'))
  run({ type: 'lockAcquire', name: 'db', lease: lease(1), owner: 'x' })
  return sm.toData()
}

test('restore replaces keys, leases and locks at a revision above both, and keeps sessions', t => {
  const data = backupData()
  const sm = new StoreStateMachine()
  let index = 0
  const apply = (client: string, sequence: number, command: StoreCommand): StoreResult => sm.apply(++index, { client, sequence, command })
  apply('c', 1, { type: 'leaseGrant', lease: lease(2), ttlMs: 5000 })
  apply('c', 2, { type: 'lockAcquire', name: 'db', lease: lease(2), owner: 'y' })
  for (let i = 0; i < 7; i++) apply('c', 3 + i, put(`mine${i}`, 'x', 2))
  const last = apply('c', 10, put('mine7', 'x', 2))
  const before = sm.revision
  t.true(before > data.kv.revision)
  const restored = apply('admin', 1, { type: 'restore', data })
  t.deepEqual(restored, { type: 'restored', revision: before + 1 })
  t.is(sm.revision, before + 1)
  t.is(text(sm.get('a')?.value), 'from backup 2')
  t.like(sm.get('a'), { version: 2, lease: 1, createRevision: before + 1, modRevision: before + 1 })
  t.is(sm.get('mine0'), undefined)
  t.deepEqual(sm.leaseList(), [{ id: 1, ttlMs: 5000, keys: 1 }])
  t.deepEqual(sm.lock('db'), { name: 'db', holder: { owner: 'x', lease: lease(1), token: before + 1 }, waiters: [] })
  t.is(sm.get(lockKey('db'))?.modRevision, before + 1, 'the lock key carries the holder\'s token')
  t.deepEqual(sm.toData().sessions.map(session => session.client), ['admin', 'c'])
  // A retry of a command from before the restore is answered from the session, not applied again.
  t.deepEqual(apply('c', 10, put('mine7', 'x', 2)), last)
  t.is(sm.revision, before + 1)
  t.is(sm.get('mine7'), undefined)
  // Lease 1 still works: its keys go with it, and the lock passes on.
  t.like(apply('c', 11, { type: 'leaseRevoke', lease: lease(1) }), { type: 'leaseRevoked', revision: before + 2 })
  t.is(sm.get('a'), undefined)
  t.is(sm.lock('db').holder, null)
})

test('after a restore, a lock acquired gets a larger token than any before, and old tokens guard nothing', t => {
  const { sm, run } = store()
  const tokens: number[] = []
  for (const id of [1, 2]) run({ type: 'leaseGrant', lease: lease(id), ttlMs: 5000 })
  for (let i = 0; i < 5; i++) {
    const result = run({ type: 'lockAcquire', name: 'db', lease: lease(1 + (i % 2)), owner: `o${i}` })
    if (result.type === 'lockAcquired') tokens.push(result.token)
    run({ type: 'lockRelease', name: 'db', owner: `o${i}` })
  }
  t.is(tokens.length, 5)
  const data = backupData()
  run({ type: 'restore', data })
  const restoredToken = sm.lock('db').holder?.token ?? 0
  t.true(tokens.every(token => token < restoredToken))
  const stale = data.locks[0]?.holder?.token ?? 0
  const guarded = run({ type: 'txn', compares: [{ target: 'modRevision', key: lockKey('db'), op: '=', value: stale }], success: [{ type: 'put', key: 'data', value: bytes('stale') }], failure: [] })
  t.like(guarded, { succeeded: false }, 'the backup\'s token is not the restored holder\'s')
  run({ type: 'lockRelease', name: 'db', owner: 'x' })
  run({ type: 'leaseGrant', lease: lease(3), ttlMs: 5000 })
  const next = run({ type: 'lockAcquire', name: 'db', lease: lease(3), owner: 'z' })
  t.is(next.type, 'lockAcquired')
  t.true(next.type === 'lockAcquired' && next.token > Math.max(restoredToken, ...tokens))
})

test('after a restore, a watcher resuming from any earlier revision is told compacted, even one that had seen everything', t => {
  const { sm, run } = store()
  for (let i = 0; i < 10; i++) run(put('k', String(i)))
  const seen = sm.revision
  const restored = run({ type: 'restore', data: backupData() })
  t.deepEqual(restored, { type: 'restored', revision: seen + 1 })
  t.deepEqual(sm.watch('', seen + 1, 10), { compacted: true, compactRevision: seen + 1 })
  t.deepEqual(sm.watch('', 1, 10), { compacted: true, compactRevision: seen + 1 })
  run(put('k', 'after'))
  const after = sm.watch('', seen + 2, 10)
  t.deepEqual(after.compacted ? [] : after.events.map(e => `${e.key}@${e.revision}`), [`k@${seen + 2}`])
})

test('a restore from a backup ahead of the store moves past the backup\'s revision', t => {
  const { sm, run } = store()
  run(put('k', 'v'))
  const data = backupData()
  t.true(data.kv.revision > sm.revision)
  t.deepEqual(run({ type: 'restore', data }), { type: 'restored', revision: data.kv.revision + 1 })
})

test('a restore of data no store could hold is refused and changes nothing', t => {
  const { sm, run } = store()
  run(put('k', 'v'))
  const data = backupData()
  const before = sm.toData()
  const orphan = { ...data, leases: [] }
  t.like(run({ type: 'restore', data: orphan }), { type: 'refused', reason: 'badRequest' })
  const [first] = data.kv.keys
  if (first === undefined) throw new Error('the backup has keys')
  const repeated = { ...data, kv: { ...data.kv, keys: [...data.kv.keys, first] } }
  t.like(run({ type: 'restore', data: repeated }), { type: 'refused', reason: 'badRequest' })
  const after = sm.toData()
  t.deepEqual(after.kv, before.kv)
  t.deepEqual(after.locks, before.locks)
})

test('fencing tokens keep increasing across restores of older backups', t => {
  for (const seed of [21, 22, 23]) {
    const sm = new StoreStateMachine()
    const lastToken = new Map<string, number>()
    const backups: Array<ReturnType<StoreStateMachine['toData']>> = []
    randomCommands(seed, 1500).forEach((command, i) => {
      if (i % 100 === 0) backups.push(sm.toData())
      const backup = backups[Math.max(0, backups.length - 3)]
      const revision = sm.revision
      const result = sm.apply(i + 1, { client: '', sequence: 0, command: i % 250 === 249 && backup !== undefined ? { type: 'restore', data: backup } : command })
      t.true(sm.revision >= revision, `seed ${seed}: the revision went back`)
      if (result.type === 'restored') t.true(result.revision > revision)
      for (const name of ['l0', 'l1', 'l2']) {
        const holder = sm.lock(name).holder
        if (holder === null) continue
        const previous = lastToken.get(name) ?? 0
        t.true(holder.token >= previous, `seed ${seed}: ${name} token went back`)
        lastToken.set(name, holder.token)
      }
    })
  }
})
