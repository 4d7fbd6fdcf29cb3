// A follower whose leader falls silent (hung, cut off) campaigns one tick after the leader lease
// has lapsed, staggered by its rank among the other voters, so that the survivors seldom split
// the vote; nodes without a leader keep random election timeouts.
import test from 'ava'
import { bytes, id, TestCluster } from './cluster.js'

/**
 * Ticks nodes 2 and 3 together, both before either hears the other as two processes do, settling
 * the cluster after each round, until one of them leads (the hung node 1 keeps thinking it does).
 */
function tickSurvivorsUntilOneLeads (cluster: TestCluster): void {
  for (let i = 0; i < 40 && [2, 3].every(n => cluster.get(n).node.status().role !== 'leader'); i++) {
    cluster.tick(2)
    cluster.tick(3)
    cluster.stabilize()
  }
}

/** Three members led by node 1, which then hangs (cut off from both); `term` is its term. */
function hungLeader (seed = 1): { cluster: TestCluster, term: number } {
  const cluster = new TestCluster(3, { seed })
  cluster.elect(1)
  const { term } = cluster.get(1).node.status()
  cluster.isolate(1)
  return { cluster, term }
}

test('a follower of a silent leader campaigns one tick after the lease, two ticks later per rank', t => {
  const cluster = new TestCluster(5)
  cluster.elect(1)
  for (const n of [1, 2, 3, 4, 5]) cluster.isolate(n)
  t.deepEqual([2, 3, 4, 5].map(n => cluster.ticksUntilCampaign(n, 30)), [11, 13, 15, 17])
})

test('the rank leaves out the silent leader, not the lowest id', t => {
  const cluster = new TestCluster(3)
  cluster.elect(2)
  for (const n of [1, 2, 3]) cluster.isolate(n)
  t.deepEqual([1, 3].map(n => cluster.ticksUntilCampaign(n, 30)), [11, 13])
})

test('every rank has a turn of its own, however many voters', t => {
  const cluster = new TestCluster(7)
  cluster.elect(1)
  for (const n of [1, 2, 3, 4, 5, 6, 7]) cluster.isolate(n)
  t.deepEqual([2, 3, 4, 5, 6, 7].map(n => cluster.ticksUntilCampaign(n, 40)), [11, 13, 15, 17, 19, 21])
})

test('the next in rank may be a tick behind: the lease has lapsed there too', t => {
  const { cluster, term } = hungLeader()
  cluster.tick(3, 10)
  t.is(cluster.ticksUntilCampaign(2, 11), 11)
  t.like(cluster.get(2).node.status(), { role: 'leader', term: term + 1 })
})

test('when the first in rank cannot win, the next takes its turn, still in one term', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  cluster.cut.add('1>2').add('2>1')
  cluster.get(1).node.propose(bytes('2 misses this'))
  cluster.stabilize()
  const { term, lastIndex } = cluster.get(3).node.status()
  t.true(lastIndex > cluster.get(2).node.status().lastIndex, 'node 2 is behind')
  cluster.isolate(1)
  tickSurvivorsUntilOneLeads(cluster)
  t.like(cluster.get(3).node.status(), { role: 'leader', term: term + 1 })
  t.like(cluster.get(2).node.status(), { role: 'follower', leader: id(3), term: term + 1 })
})

test('a report of the leader\'s death that comes late keeps the order of rank', t => {
  for (let seed = 1; seed <= 30; seed++) {
    const { cluster, term } = hungLeader(seed)
    cluster.tick(2, 9)
    cluster.tick(3, 9)
    cluster.get(2).node.reportPeerGone(id(1))
    cluster.get(3).node.reportPeerGone(id(1))
    tickSurvivorsUntilOneLeads(cluster)
    t.like(cluster.get(2).node.status(), { role: 'leader', term: term + 1 }, `seed ${seed}`)
  }
})

test('the survivors of a hung leader elect the lowest-id one in a single term, whatever their timers drew', t => {
  for (let seed = 1; seed <= 30; seed++) {
    const { cluster, term } = hungLeader(seed)
    tickSurvivorsUntilOneLeads(cluster)
    t.like(cluster.get(2).node.status(), { role: 'leader', term: term + 1 }, `seed ${seed}`)
    t.like(cluster.get(3).node.status(), { role: 'follower', leader: id(2), term: term + 1 }, `seed ${seed}`)
  }
})

test('a node whose campaign found no one goes back to random timeouts', t => {
  const waits = new Set<number>()
  for (let seed = 1; seed <= 30; seed++) {
    const cluster = new TestCluster(3, { seed })
    cluster.elect(1)
    for (const n of [1, 2, 3]) cluster.isolate(n)
    t.is(cluster.ticksUntilCampaign(2, 30), 11)
    t.is(cluster.get(2).node.status().role, 'preCandidate')
    // Still a pre-candidate at the same term: count the ticks until it asks again.
    const before = cluster.get(2).logs.filter(record => record.message === 'became pre-candidate').length
    let ticks = 0
    while (cluster.get(2).logs.filter(record => record.message === 'became pre-candidate').length === before && ticks < 30) {
      cluster.tick(2)
      cluster.stabilize()
      ticks++
    }
    t.true(ticks >= 10 && ticks < 20, `asked again after ${ticks} ticks`)
    waits.add(ticks)
  }
  t.true(waits.size >= 5, 'the waits spread over the range')
})
