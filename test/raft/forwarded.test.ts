// What a follower forwards to its leader: taken at any time, joined, and never held behind its disk.
import test from 'ava'
import { mergeForwarded } from '../../src/raft/forwarded.js'
import type { EntryPayload, Message } from '../../src/raft/types.js'
import { bytes, id, text, TestCluster } from './cluster.js'

const normal = (value: string): EntryPayload => ({ type: 'normal', data: bytes(value) })
const propose = (to: number, ...entries: EntryPayload[]): Message => ({ type: 'propose', from: id(2), to: id(to), term: 0, entries })
const values = (message: Message | undefined): string[] =>
  message?.type === 'propose' ? message.entries.map(entry => entry.type === 'normal' ? text(entry.data) : `${entry.change.type}(${entry.change.node})`) : []

test('consecutive proposals to one leader travel as one message, in order', t => {
  const merged = mergeForwarded([propose(1, normal('a')), propose(1, normal('b'), normal('c')), propose(1, normal('d'))], 1024)
  t.is(merged.length, 1)
  t.deepEqual(values(merged[0]), ['a', 'b', 'c', 'd'])
})

test('joining stops at the byte limit, a read, another leader and a membership change', t => {
  const read: Message = { type: 'readIndex', from: id(2), to: id(1), term: 0, context: 'r' }
  const change: EntryPayload = { type: 'confChange', change: { type: 'addLearner', node: id(9) } }
  // Each one-byte entry counts 25 bytes: two fit in 50, a third does not.
  const merged = mergeForwarded([
    propose(1, normal('a')), propose(1, normal('b')), propose(1, normal('c')),
    read, propose(1, normal('d')),
    propose(3, normal('e')),
    propose(3, change), propose(3, normal('f'))
  ], 50)
  t.deepEqual(merged.map(message => message.type === 'propose' ? `${message.to}:${values(message).join(',')}` : message.type), [
    '1:a,b', '1:c', 'readIndex', '1:d', '3:e', `3:addLearner(${id(9)})`, '3:f'
  ])
})

test('a proposal larger than the limit still travels, alone', t => {
  const merged = mergeForwarded([propose(1, normal('x'.repeat(100))), propose(1, normal('y'))], 50)
  t.deepEqual(merged.map(values), [['x'.repeat(100)], ['y']])
})

test('the messages given are not changed', t => {
  const first = propose(1, normal('a'))
  mergeForwarded([first, propose(1, normal('b'))], 1024)
  t.deepEqual(values(first), ['a'])
})

test("a follower's proposals and reads leave before its own write, and can be taken while a Ready is outstanding", t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  const follower = cluster.get(2)
  // The leader's append gives the follower entries to persist in its next Ready.
  cluster.get(1).node.propose(bytes('from the leader'))
  cluster.processReady(1)
  cluster.deliver(2)
  follower.node.propose(bytes('p1'))
  follower.node.propose(bytes('p2'))
  const ready = follower.node.ready()
  t.true(ready.entries.length > 0, 'this Ready has a write to make')
  t.deepEqual(ready.earlyMessages.map(values), [['p1', 'p2']], 'both proposals, joined, may leave before the write')
  t.false(ready.messages.some(message => message.type === 'propose'))
  // While the Ready is being carried out, new requests can be taken at once.
  follower.node.propose(bytes('p3'))
  follower.node.readIndex('ctx')
  const taken = follower.node.takeForwarded()
  t.deepEqual(taken.map(message => message.type), ['propose', 'readIndex'])
  t.deepEqual(values(taken[0]), ['p3'])
  t.deepEqual(follower.node.takeForwarded(), [], 'taken once')
  follower.storage.save(ready)
  follower.node.advance(ready)
  for (const message of [...ready.earlyMessages, ...ready.messages, ...taken]) cluster.send(message)
  cluster.stabilize()
  t.deepEqual(cluster.get(3).applied.map(entry => entry.type === 'normal' ? text(entry.data) : ''), ['from the leader', 'p1', 'p2', 'p3'])
})
