import test from 'ava'
import type { Snapshot } from '../../src/raft/types.js'
import { bootstrapStorage, id, TestCluster } from './cluster.js'

test('a leader whose snapshot data is not at hand asks again later, and then sends it', t => {
  const cluster = new TestCluster(3, { snapshotChunkBytes: 100 })
  // The leader's snapshot data is on disk: the first three times the core asks, it is being read.
  const storage = bootstrapStorage([id(1), id(2), id(3)])
  const stored = storage.snapshot.bind(storage)
  let asked = 0
  cluster.addNode(id(1), Object.assign(storage, { snapshot: (): Snapshot | undefined => ++asked <= 3 ? undefined : stored() }))
  cluster.elect(1)
  const applied = cluster.compactPast(1, 3, 10, new Uint8Array(250))
  let chunks = 0
  for (let tick = 0; tick < 200 && cluster.get(3).node.status().commit < applied; tick++) {
    cluster.tick(1)
    for (const n of [1, 2, 3]) cluster.processReady(n)
    chunks += cluster.deliver().filter(m => m.type === 'snapshot').length
  }
  t.true(cluster.get(3).node.status().commit >= applied, 'the snapshot was installed')
  t.is(asked, 4, 'asked until the data was at hand, then no more')
  t.is(chunks, 3, 'each 100-byte chunk of 250 bytes once')
  t.true(cluster.get(1).logs.some(record => record.message === 'snapshot not at hand yet'))
})
