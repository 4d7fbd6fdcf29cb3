import test from 'ava'
import { randomInt, SeededRng } from '../../src/lib/rng.js'
import { KeyStore, maxHistoryEvents } from '../../src/store/key-store.js'

test('the watch history is trimmed back to its bound in steps, the same way on every replica', t => {
  const store = new KeyStore()
  const value = new Uint8Array([1])
  const writes = Math.round(maxHistoryEvents * 1.25)
  for (let revision = 1; revision <= writes; revision++) {
    store.put(`k${revision % 1000}`, value, 0, revision)
    store.revision = revision
  }
  const data = store.toData()
  t.true(data.history.length >= maxHistoryEvents && data.history.length <= maxHistoryEvents * 1.1)
  t.is(data.compactRevision, (data.history[0]?.revision ?? 0) - 1)
  t.like(store.eventsSince('', 1, 10), { compacted: true, compactRevision: data.compactRevision })
  const recent = store.eventsSince('', writes, 10)
  t.false(recent.compacted)
  // A replica rebuilt from a snapshot and fed the same writes ends in the same state.
  const replica = KeyStore.fromData(data)
  for (let revision = writes + 1; revision <= writes + 20_000; revision++) {
    store.put('x', value, 0, revision)
    store.revision = revision
    replica.put('x', value, 0, revision)
    replica.revision = revision
  }
  t.deepEqual(replica.toData(), store.toData())
})

test('ranges and prefixes answer as a plain sorted list of the keys would, through random puts and deletes', t => {
  const rng = new SeededRng(11)
  const store = new KeyStore()
  const model = new Set<string>()
  const alphabet = ['a', 'b', 'ab', '/', 'é', 'z', '\u0000']
  const randomKey = (): string => Array.from({ length: randomInt(rng, 0, 4) }, () => alphabet[randomInt(rng, 0, alphabet.length)] as string).join('')
  for (let revision = 1; revision <= 3000; revision++) {
    const key = randomKey()
    if (randomInt(rng, 0, 3) === 0) {
      store.delete(key, revision)
      model.delete(key)
    } else {
      store.put(key, new Uint8Array([revision % 256]), 0, revision)
      model.add(key)
    }
    store.revision = revision
    if (revision % 50 !== 0) continue
    const sorted = [...model].sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
    for (let probe = 0; probe < 20; probe++) {
      const prefix = randomKey().slice(0, randomInt(rng, 0, 3))
      const after = randomInt(rng, 0, 2) === 0 ? undefined : randomKey()
      const limit = randomInt(rng, 1, 6)
      const matching = sorted.filter(key => key.startsWith(prefix) && (after === undefined || key > after))
      const answer = store.range(prefix, after, limit)
      t.deepEqual(answer.items.map(kv => kv.key), matching.slice(0, limit), `range(${JSON.stringify(prefix)}, ${JSON.stringify(after)}, ${limit})`)
      t.is(answer.more, matching.length > limit)
      t.deepEqual(store.keysWithPrefix(prefix), sorted.filter(key => key.startsWith(prefix)))
    }
    // The data lists the keys in the order they were created (a Set keeps that order too).
    t.deepEqual(store.toData().keys.map(kv => kv.key), [...model])
    const rebuilt = KeyStore.fromData(store.toData())
    t.deepEqual(rebuilt.toData(), store.toData())
    t.deepEqual(rebuilt.keysWithPrefix(''), sorted)
  }
})
