import test from 'ava'
import type { NodeId } from '../../src/lib/ids.js'
import { transferGivenUp } from '../../src/node/membership.js'

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
