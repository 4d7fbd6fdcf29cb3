import test from 'ava'
import type { NodeId } from '../../src/lib/ids.js'
import { handoverCandidates, quorumConnected, transferGivenUp } from '../../src/node/membership.js'

const target = 'target' as NodeId

test('a leadership transfer is given up only while its term lasts: Raft dropped it, or the node lost its quorum', t => {
  t.is(transferGivenUp({ term: 4, role: 'leader', leadTransferee: target }, 4), undefined, 'under way')
  t.is(transferGivenUp({ term: 4, role: 'leader', leadTransferee: null }, 4), 'Raft gave the transfer up after an election timeout')
  t.is(transferGivenUp({ term: 4, role: 'follower', leadTransferee: null }, 4), 'this node lost its quorum first')
  // The target campaigned: the term moved on, and the node waits to see who won.
  t.is(transferGivenUp({ term: 5, role: 'follower', leadTransferee: null }, 4), undefined)
  t.is(transferGivenUp({ term: 5, role: 'leader', leadTransferee: null }, 4), undefined)
  t.is(transferGivenUp(undefined, 4), undefined, 'no Raft driver')
})

const id = (name: string): NodeId => name as NodeId
const [a, b, c, d, e] = [id('a'), id('b'), id('c'), id('d'), id('e')]

test('leadership is handed to a connected voter, the most caught up first; never to itself or to one out of reach', t => {
  const match: Record<string, number> = { a: 9, b: 4, c: 7, d: 8 }
  const connected = (voter: NodeId): boolean => voter !== d
  t.deepEqual(handoverCandidates([a, b, c, d], a, connected, voter => match[voter] ?? 0), [c, b], 'd is further along but not connected')
  t.deepEqual(handoverCandidates([a, b, c], a, () => false, voter => match[voter] ?? 0), [], 'every other voter gone')
  t.deepEqual(handoverCandidates([a], a, () => true, () => 0), [], 'a single voter')
})

test('a quorum is connected when the voters in reach, this node included if it votes, are more than half', t => {
  const only = (...ids: NodeId[]) => (voter: NodeId): boolean => ids.includes(voter)
  t.true(quorumConnected([a, b, c], a, only(b)))
  t.false(quorumConnected([a, b, c], a, only()), 'both others gone')
  t.true(quorumConnected([a], a, only()), 'a single voter is its own quorum')
  t.false(quorumConnected([a, b, c, d], a, only(b)), 'two of four is not a majority')
  t.true(quorumConnected([a, b, c, d, e], a, only(c, e)))
  // Not a voter itself (a learner, or removed): it counts only the voters it reaches.
  t.false(quorumConnected([a, b, c], e, only(a)))
  t.true(quorumConnected([a, b, c], e, only(a, c)))
})
