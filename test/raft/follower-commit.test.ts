// A voter that forms a majority with its leader commits an entry of the term once the leader's
// disk and its own hold it (`inferCommit`): a write through a follower is answered without waiting
// for the follower's answer to reach the leader and the leader's commit notice to come back.
import test from 'ava'
import type { Message } from '../../src/raft/types.js'
import { bytes, id, TestCluster, text } from './cluster.js'

/** A three-voter cluster led by node 1 in which node 2 forwarded a write that the leader appended and persisted. */
function forwardedWrite (): { cluster: TestCluster, index: number, commitBefore: number } {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  const commitBefore = cluster.get(1).node.status().commit
  cluster.get(2).node.propose(bytes('w'))
  cluster.processReady(2)
  cluster.deliver(1)
  // The leader's write of the entry, then the Ready carrying what it tells node 2 afterwards.
  cluster.processReady(1)
  cluster.processReady(1)
  return { cluster, index: cluster.get(1).node.status().lastIndex, commitBefore }
}

const appliedValues = (cluster: TestCluster, n: number): string[] =>
  cluster.get(n).applied.map(entry => text(entry.type === 'normal' ? entry.data : new Uint8Array()))

const durableNotice = (message: Message, to: number): boolean =>
  message.type === 'append' && message.to === id(to) && message.entries.length === 0 && message.durable !== undefined

test('a follower commits and applies its forwarded write once both disks hold it, before the leader hears its answer', t => {
  const { cluster, index, commitBefore } = forwardedWrite()
  t.true(cluster.queue.some(message => durableNotice(message, 2) && message.type === 'append' && message.durable === index && message.quiet === true),
    'after its write the leader tells node 2, quietly, that its disk holds the entry')
  t.false(cluster.queue.some(message => message.type === 'append' && message.to === id(3) && message.durable !== undefined), 'node 3 forwarded nothing and is not told')
  cluster.deliver(2)
  t.is(cluster.get(2).node.status().commit, commitBefore, 'not before its own disk holds the entry')
  cluster.processReady(2)
  cluster.processReady(2)
  t.is(cluster.get(2).node.status().commit, index)
  t.deepEqual(appliedValues(cluster, 2), ['w'])
  t.is(cluster.get(1).node.status().commit, commitBefore, 'the leader has not heard from anyone yet')
  t.false(cluster.queue.some(message => message.type === 'appendResponse' && message.from === id(2) && message.index < index),
    'the quiet notice was not answered')
  cluster.stabilize()
  for (const n of [1, 2, 3]) t.deepEqual(appliedValues(cluster, n), ['w'], `node ${n}`)
})

test('a read at the leader waits for what it told its followers its disk holds, not only for its commit index', t => {
  const { cluster, index, commitBefore } = forwardedWrite()
  cluster.deliver(2)
  cluster.processReady(2)
  cluster.processReady(2)
  t.deepEqual(appliedValues(cluster, 2), ['w'], 'node 2 answered the write')
  // The followers' answers are lost: the leader's commit index stays behind what node 2 applied.
  cluster.queue = cluster.queue.filter(message => message.type !== 'appendResponse')
  cluster.get(1).node.readIndex('r')
  for (let round = 0; round < 4; round++) {
    cluster.processReady(1)
    cluster.deliver(2)
    cluster.deliver(3)
    cluster.processReady(2)
    cluster.processReady(3)
    cluster.queue = cluster.queue.filter(message => message.type !== 'appendResponse')
    cluster.deliver(1)
  }
  cluster.processReady(1)
  t.is(cluster.get(1).node.status().commit, commitBefore)
  t.deepEqual(cluster.get(1).readStates, [{ index, context: 'r' }])
})

test('no follower is told the leader\'s disk unless the two of them are a majority', t => {
  const cluster = new TestCluster(5)
  cluster.elect(1)
  cluster.get(2).node.propose(bytes('w'))
  const seen: Message[] = []
  for (let round = 0; round < 20; round++) {
    for (const n of [1, 2, 3, 4, 5]) cluster.processReady(n)
    seen.push(...cluster.deliver())
  }
  t.true(seen.some(message => message.type === 'append' && message.entries.length > 0), 'the write was replicated')
  t.false(seen.some(message => message.type === 'append' && message.durable !== undefined))
  for (const n of [1, 2, 3, 4, 5]) t.deepEqual(appliedValues(cluster, n), ['w'], `node ${n}`)
})

test('no follower is told the leader\'s disk while a membership change is pending', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  t.true(cluster.get(1).node.proposeConfChange({ type: 'addLearner', node: id(4) }).ok)
  cluster.processReady(1)
  const appendsToNode2 = (value: string): Message[] => {
    cluster.queue = []
    cluster.get(2).node.propose(bytes(value))
    cluster.processReady(2)
    cluster.deliver(1)
    cluster.processReady(1)
    cluster.processReady(1)
    return cluster.queue.filter(message => message.type === 'append' && message.to === id(2))
  }
  const whilePending = appendsToNode2('w')
  t.true(whilePending.length > 0)
  t.true(whilePending.every(message => message.type === 'append' && message.durable === undefined))
  cluster.stabilize()
  // Once the change is applied, node 2 is told again.
  t.true(appendsToNode2('after').some(message => message.type === 'append' && message.durable !== undefined))
})
