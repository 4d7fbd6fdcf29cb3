import test from 'ava'
import { bytes, TestCluster, text } from './cluster.js'

test('three nodes elect a leader and replicate proposals in order', t => {
  const cluster = new TestCluster(3)
  cluster.stabilize()
  cluster.elect(1)
  t.is(cluster.get(1).node.status().role, 'leader')
  t.deepEqual([2, 3].map(n => cluster.get(n).node.status().leader), ['1', '1'])
  for (const value of ['a', 'b', 'c']) t.true(cluster.get(1).node.propose(bytes(value)).ok)
  t.true(cluster.get(2).node.propose(bytes('d')).ok, 'a follower forwards')
  cluster.stabilize()
  for (const n of [1, 2, 3]) t.deepEqual(cluster.get(n).applied.map(entry => text(entry.type === 'normal' ? entry.data : new Uint8Array())), ['a', 'b', 'c', 'd'])
})
