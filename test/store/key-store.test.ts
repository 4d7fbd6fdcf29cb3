import test from 'ava'
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
