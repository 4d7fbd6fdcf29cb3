// A follower told that its leader's process is gone campaigns within a few ticks instead of a
// whole election timeout; a wrong report disturbs nobody.
import test from 'ava'
import { id, TestCluster } from './cluster.js'

test('the survivors of a dead leader elect the lowest-id one within a tick', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  const { term } = cluster.get(1).node.status()
  cluster.isolate(1)
  cluster.get(2).node.reportPeerGone(id(1))
  cluster.get(3).node.reportPeerGone(id(1))
  t.is(cluster.get(2).node.status().leader, null, 'node 2 no longer follows 1')
  t.is(cluster.ticksUntilCampaign(2, 10), 1, 'node 2 campaigns at its next tick')
  t.like(cluster.get(2).node.status(), { role: 'leader', term: term + 1 })
  t.like(cluster.get(3).node.status(), { role: 'follower', leader: id(2), term: term + 1 })
  t.true(cluster.get(2).logs.some(record => record.message === 'leader gone: campaigning early'))
})

test('the second in rank waits three ticks, so the first has time to win', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  cluster.isolate(1)
  cluster.isolate(2)
  cluster.get(3).node.reportPeerGone(id(1))
  t.is(cluster.ticksUntilCampaign(3, 10), 3)
})

test('a report about a member that is not the leader changes nothing', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  const before = cluster.get(2).node.status()
  cluster.get(2).node.reportPeerGone(id(3))
  t.like(cluster.get(2).node.status(), { leader: id(1), term: before.term, role: 'follower' })
  cluster.isolate(1)
  t.true(cluster.ticksUntilCampaign(2, 30) >= 10, 'node 2 waits out a whole election timeout')
})

test('a wrong report while the leader lives: the pre-vote is refused and the leader keeps its term', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  const { term } = cluster.get(1).node.status()
  cluster.get(3).node.reportPeerGone(id(1))
  for (let i = 0; i < 3; i++) {
    cluster.tick(3)
    cluster.stabilize()
  }
  t.like(cluster.get(3).node.status(), { role: 'preCandidate', term }, 'node 3 asked for pre-votes')
  t.like(cluster.get(1).node.status(), { role: 'leader', term }, 'node 1 ignored them')
  t.like(cluster.get(2).node.status(), { role: 'follower', leader: id(1), term }, 'node 2, in the leader lease, ignored them')
  cluster.tick(1)
  cluster.stabilize()
  t.like(cluster.get(3).node.status(), { role: 'follower', leader: id(1), term }, 'the next heartbeat brings node 3 back')
})

test('without pre-vote the report is ignored: a wrong one would cost the leader its term', t => {
  const cluster = new TestCluster(3, { preVote: false })
  cluster.elect(1)
  cluster.get(2).node.reportPeerGone(id(1))
  t.like(cluster.get(2).node.status(), { role: 'follower', leader: id(1) })
})

test('a node already campaigning ignores the report', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  cluster.isolate(3)
  cluster.get(3).node.campaign()
  const before = cluster.get(3).node.status()
  cluster.get(3).node.reportPeerGone(id(1))
  t.deepEqual(cluster.get(3).node.status(), before, 'a pre-candidate is unchanged')
})
