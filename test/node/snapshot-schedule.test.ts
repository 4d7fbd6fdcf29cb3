import test from 'ava'
import type { NodeId } from '../../src/lib/ids.js'
import { snapshotDue, snapshotPhase } from '../../src/node/snapshot-schedule.js'

const conf = { voters: ['c', 'a', 'b'] as NodeId[], learners: ['d'] as NodeId[] }

test('members of one cluster snapshot at distinct points, spread over the first half of the interval', t => {
  const phases = ['a', 'b', 'c', 'd'].map(id => snapshotPhase(id as NodeId, conf, 100_000))
  t.deepEqual(phases, [0, 12_500, 25_000, 37_500])
  t.is(snapshotPhase('z' as NodeId, conf, 100_000), 0, 'a node outside the membership keeps phase 0')
  t.is(snapshotPhase('a' as NodeId, { voters: ['a' as NodeId], learners: [] }, 100_000), 0, 'one member: every multiple of the interval')
})

test('a snapshot is due when a point of the member\'s schedule was passed since the last one', t => {
  // Phase 0: at 100,000, 200,000, ...
  t.false(snapshotDue(99_999, 0, 100_000, 0))
  t.true(snapshotDue(100_000, 0, 100_000, 0))
  t.false(snapshotDue(199_999, 100_000, 100_000, 0))
  t.true(snapshotDue(200_050, 100_000, 100_000, 0), 'applied in a batch that passed the point')
  // Phase 25,000: at 25,000, 125,000, ...
  t.false(snapshotDue(24_999, 0, 100_000, 25_000))
  t.true(snapshotDue(25_000, 0, 100_000, 25_000))
  t.false(snapshotDue(124_999, 25_000, 100_000, 25_000))
  t.true(snapshotDue(125_000, 25_000, 100_000, 25_000))
  // After a leader's snapshot at an index of its own, the next point of the member's schedule.
  t.false(snapshotDue(110_000, 107_000, 100_000, 25_000))
  t.true(snapshotDue(125_000, 107_000, 100_000, 25_000))
})
