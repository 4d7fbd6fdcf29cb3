// Cases found in review, kept as tests: each broke (or would break) an earlier version of the core.
import test from 'ava'
import { silentLogger } from '../../src/lib/logger.js'
import { SeededRng } from '../../src/lib/rng.js'
import { RawNode } from '../../src/raft/raw-node.js'
import { MemoryStorage } from '../../src/raft/storage.js'
import type { Message } from '../../src/raft/types.js'
import { bootstrapStorage, bytes, id, TestCluster } from './cluster.js'

test('a snapshot transfer slower than the heartbeat sends each chunk about once, and finishes', t => {
  const cluster = new TestCluster(3, { snapshotChunkBytes: 100 })
  cluster.elect(1)
  const applied = cluster.compactPast(1, 3, 20, new Uint8Array(100 * 100))
  let chunks = 0
  // A round trip takes three heartbeat intervals; chunks go one per round trip (stop-and-wait).
  for (let tick = 0; tick < 1000 && cluster.get(3).node.status().commit < applied; tick++) {
    cluster.tick(1)
    for (const n of [1, 2, 3]) cluster.processReady(n)
    if (tick % 3 === 0) chunks += cluster.deliver().filter(m => m.type === 'snapshot').length
  }
  t.true(cluster.get(3).node.status().commit >= applied, 'the snapshot was installed')
  t.true(chunks <= 110, `${chunks} chunk messages for a 100-chunk snapshot`)
})

test('chunks from two leaders never add up to one snapshot', t => {
  const storage = bootstrapStorage([id(1), id(2), id(3)])
  const node = new RawNode({ id: id(3), rng: new SeededRng(1), logger: silentLogger }, storage)
  const apply = (): Message[] => {
    const ready = node.ready()
    storage.save(ready)
    for (const entry of ready.committedEntries) if (entry.type === 'confChange') node.applyConfChange(entry)
    node.advance(ready)
    return [...ready.earlyMessages, ...ready.messages]
  }
  apply()
  const metadata = { index: 10, term: 2, conf: { voters: [id(1), id(2), id(3)], learners: [] } }
  node.step({ type: 'snapshot', from: id(1), to: id(3), term: 2, metadata, offset: 0, chunk: new Uint8Array(100), totalBytes: 200 })
  apply()
  // A new leader of term 3 sends the second half of its own encoding of the same snapshot.
  node.step({ type: 'snapshot', from: id(2), to: id(3), term: 3, metadata, offset: 100, chunk: new Uint8Array(100).fill(7), totalBytes: 200 })
  const answers = apply().filter(m => m.type === 'snapshotResponse')
  t.like(answers[0], { to: id(2), offset: 0 }, 'the follower asks the new leader to start over')
  t.is(node.status().commit, 3, 'nothing was installed')
})

test('a snapshot installed while a Ready with an older conf change is outstanding keeps the snapshot membership', t => {
  const storage = bootstrapStorage([id(1), id(2), id(3)])
  const node = new RawNode({ id: id(2), rng: new SeededRng(1), logger: silentLogger }, storage)
  const run = (beforeApply?: () => void): void => {
    const ready = node.ready()
    storage.save(ready)
    beforeApply?.()
    for (const entry of ready.committedEntries) if (entry.type === 'confChange') node.applyConfChange(entry)
    node.advance(ready)
  }
  run()
  const base = { from: id(1), to: id(2), term: 2 } as const
  node.step({ ...base, type: 'append', index: 3, logTerm: 1, commit: 4, entries: [{ term: 2, index: 4, type: 'confChange', change: { type: 'addVoter', node: id(4) } }] })
  run()
  node.step({ ...base, type: 'append', index: 4, logTerm: 2, commit: 5, entries: [{ term: 2, index: 5, type: 'confChange', change: { type: 'removeNode', node: id(4) } }] })
  // While the Ready holding "remove 4" is being persisted, a snapshot at 10 arrives in which 4 was added back.
  const conf = { voters: [id(1), id(2), id(3), id(4)], learners: [] }
  run(() => { node.step({ ...base, type: 'snapshot', metadata: { index: 10, term: 2, conf }, offset: 0, chunk: new Uint8Array(), totalBytes: 0 }) })
  while (node.hasReady()) run()
  t.deepEqual(node.status().conf, conf)
})

test('a restart with applied past the snapshot keeps the conf changes applied since', t => {
  const storage = bootstrapStorage([id(1), id(2), id(3)])
  storage.createSnapshot(3, { voters: [id(1), id(2), id(3)], learners: [] }, new Uint8Array())
  storage.save({
    entries: [
      { term: 2, index: 4, type: 'confChange', change: { type: 'addVoter', node: id(4) } },
      { term: 2, index: 5, type: 'confChange', change: { type: 'addVoter', node: id(5) } },
      { term: 2, index: 6, type: 'normal', data: bytes('x') }
    ],
    hardState: { term: 2, vote: null, commit: 6 }
  })
  // The state machine says it applied up to 6, so the core hands out nothing to re-apply.
  const node = new RawNode({ id: id(1), applied: 6, rng: new SeededRng(1), logger: silentLogger }, storage)
  t.deepEqual(node.status().conf.voters, [id(1), id(2), id(3), id(4), id(5)])
  t.false(node.hasReady())
})

test('a single voter sends its learners early, but never a commit beyond what its disk holds', t => {
  const cluster = new TestCluster(1)
  cluster.elect(1)
  cluster.addNode(id(2), new MemoryStorage())
  cluster.get(1).node.proposeConfChange({ type: 'addLearner', node: id(2) })
  cluster.stabilize()
  const leader = cluster.get(1)
  t.deepEqual(leader.node.status().conf.learners, [id(2)])
  const durable = leader.node.status().lastIndex
  leader.node.propose(bytes('x'))
  const ready = leader.node.ready()
  // Its own append is the quorum: the entry is committed before the leader has written it.
  t.is(ready.hardState?.commit, durable + 1)
  t.deepEqual(ready.entries.map(entry => entry.index), [durable + 1])
  const appends = ready.earlyMessages.filter(message => message.type === 'append')
  t.true(appends.length > 0, 'the learner is sent the entry before the write')
  t.deepEqual(ready.messages, [])
  for (const message of appends) t.is(message.type === 'append' ? message.commit : -1, durable)
})
