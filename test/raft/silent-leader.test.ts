// A follower whose leader falls silent (hung, cut off) campaigns one tick after the leader lease
// has lapsed, staggered by its rank among the other voters, so that the survivors do not split
// the vote; nodes without a leader keep random election timeouts.
import test from 'ava'
import { id, TestCluster } from './cluster.js'

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

test('the survivors of a hung leader elect the lowest-id one in a single term, whatever their timers drew', t => {
  for (let seed = 1; seed <= 30; seed++) {
    const cluster = new TestCluster(3, { seed })
    cluster.elect(1)
    const { term } = cluster.get(1).node.status()
    cluster.isolate(1)
    for (let i = 0; i < 40 && [2, 3].every(n => cluster.get(n).node.status().role !== 'leader'); i++) {
      // Both tick before either hears the other, as two processes do.
      cluster.tick(2)
      cluster.tick(3)
      cluster.stabilize()
    }
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
