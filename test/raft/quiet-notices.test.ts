// Commit notices: the empty appends a leader sends when the commit index moves, to followers it
// knows hold every entry, ask for no answer; every other append is answered.
import test from 'ava'
import type { Message } from '../../src/raft/types.js'
import { bytes, id, TestCluster } from './cluster.js'

/** Runs the cluster to rest, keeping every message delivered on the way. */
function settle (cluster: TestCluster): Message[] {
  const seen: Message[] = []
  for (let round = 0; round < 1000; round++) {
    let moved = false
    for (const n of [1, 2, 3]) if (cluster.processReady(n) !== undefined) moved = true
    const delivered = cluster.deliver()
    seen.push(...delivered)
    if (!moved && delivered.length === 0) return seen
  }
  throw new Error('cluster did not settle')
}

test('a write commits with one answered append per follower; a commit notice to a follower known to hold everything is quiet and unanswered', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  cluster.get(1).node.propose(bytes('a'))
  const messages = settle(cluster)
  const appends = messages.filter(m => m.type === 'append')
  const withEntries = appends.filter(m => m.type === 'append' && m.entries.length > 0)
  const notices = appends.filter(m => m.type === 'append' && m.entries.length === 0)
  t.is(withEntries.length, 2)
  t.true(withEntries.every(m => m.type === 'append' && m.quiet !== true))
  t.is(notices.length, 2, 'one commit notice per follower')
  // The first answer commits the entry: its sender is known to hold it, so its notice is quiet;
  // the other follower's answer is still on its way, so its notice asks for one.
  const quiet = notices.filter(m => m.type === 'append' && m.quiet === true)
  t.is(quiet.length, 1)
  t.is(messages.filter(m => m.type === 'appendResponse').length, appends.length - quiet.length, 'every append but the quiet notice is answered')
  for (const n of [1, 2, 3]) t.is(cluster.get(n).node.status().commit, cluster.get(1).node.status().lastIndex, `node ${n} learned the commit`)
})

test('an empty append to a follower the leader is still probing is answered, so probing ends', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  cluster.isolate(3)
  for (let i = 0; i < 3; i++) {
    cluster.get(1).node.propose(bytes(`w${i}`))
    settle(cluster)
  }
  // Node 3 comes back having lost nothing but missed three entries: the leader probes it.
  cluster.heal()
  cluster.tick(1, 1)
  const messages = settle(cluster)
  t.true(messages.some(m => m.type === 'appendResponse' && m.from === id(3) && !m.reject), 'node 3 answered')
  t.is(cluster.get(3).node.status().commit, cluster.get(1).node.status().commit)
  const progress = cluster.get(1).node.status().progress[id(3)]
  t.like(progress, { state: 'replicate', match: cluster.get(1).node.status().lastIndex })
})

test('a follower that cannot accept a quiet notice still answers, with a rejection', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  const leader = cluster.get(1).node.status()
  const follower = cluster.get(2)
  // A notice claiming an entry the follower does not have (as if its log had been lost).
  follower.node.step({ type: 'append', from: id(1), to: id(2), term: leader.term, index: leader.lastIndex + 5, logTerm: leader.term, entries: [], commit: leader.commit, quiet: true })
  const ready = follower.node.ready()
  follower.storage.save(ready)
  follower.node.advance(ready)
  t.like([...ready.earlyMessages, ...ready.messages].find(m => m.type === 'appendResponse'), { to: id(1), reject: true })
})
