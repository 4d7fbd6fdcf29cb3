// When a driver may apply a Ready's committed entries while its write syncs.
import test from 'ava'
import { appliesDuringWrite, type Ready } from '../../src/raft/raw-node.js'
import type { Entry } from '../../src/raft/types.js'
import { bytes, id, TestCluster } from './cluster.js'

const entry = (index: number): Entry => ({ type: 'normal', term: 2, index, data: bytes(`e${index}`) })
const ready = (fields: Partial<Ready>): Ready => ({ entries: [], committedEntries: [], earlyMessages: [], messages: [], readStates: [], mustSync: false, ...fields })

test('entries committed before this write may be applied while it syncs', t => {
  t.true(appliesDuringWrite(ready({ committedEntries: [entry(4), entry(5)], entries: [entry(6), entry(7)], mustSync: true })))
  t.true(appliesDuringWrite(ready({ committedEntries: [entry(4)] })), 'a Ready without a write')
})

test('entries of this very write, a snapshot, a membership change or a role change wait for the write', t => {
  t.false(appliesDuringWrite(ready({ committedEntries: [entry(5), entry(6)], entries: [entry(6)] })), 'the last committed entry is being written')
  const metadata = { index: 3, term: 2, conf: { voters: [id(1)], learners: [] } }
  t.false(appliesDuringWrite(ready({ committedEntries: [entry(4)], snapshot: { metadata, data: new Uint8Array() } })))
  t.false(appliesDuringWrite(ready({ committedEntries: [entry(4), { type: 'confChange', term: 2, index: 5, change: { type: 'addLearner', node: id(9) } }] })))
  t.false(appliesDuringWrite(ready({ committedEntries: [entry(4)], softState: { role: 'leader', leader: id(1) } })))
  t.false(appliesDuringWrite(ready({ entries: [entry(4)] })), 'nothing to apply')
})

test("a single voter's entries commit as it appends them: applied only after its write", t => {
  const cluster = new TestCluster(1)
  cluster.elect(1)
  const leader = cluster.get(1).node
  leader.propose(bytes('x'))
  const next = leader.ready()
  t.true(next.committedEntries.length > 0 && next.entries.length > 0)
  t.false(appliesDuringWrite(next))
})

test('a leader of three applies the entries its followers acknowledged while it writes newer ones', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  const leader = cluster.get(1).node
  leader.propose(bytes('a'))
  cluster.processReady(1)
  cluster.deliver()
  for (const n of [2, 3]) cluster.processReady(n)
  // The acknowledgements of 'a' arrive while 'b' waits to be written.
  leader.propose(bytes('b'))
  cluster.deliver(1)
  const next = leader.ready()
  t.true(next.entries.length > 0 && next.committedEntries.length > 0)
  t.true(appliesDuringWrite(next))
})
