// The rules of the Raft paper (Ongaro and Ousterhout, 2014, §5) and thesis, one test each, on real
// cores wired by hand through the test cluster.
import test from 'ava'
import { RaftLog } from '../../src/raft/log.js'
import { MemoryStorage } from '../../src/raft/storage.js'
import type { Entry, Message } from '../../src/raft/types.js'
import { bootstrapStorage, bytes, id, TestCluster, text } from './cluster.js'

/** Storage holding the bootstrap conf changes (term 1) followed by entries of the given terms. */
function storageWith (voters: number, terms: number[], hardTerm: number): MemoryStorage {
  const ids = Array.from({ length: voters }, (_, i) => id(i + 1))
  const storage = bootstrapStorage(ids)
  const entries: Entry[] = terms.map((term, i) => ({ term, index: voters + 1 + i, type: 'normal', data: bytes(`t${term}`) }))
  storage.save({ entries, hardState: { term: hardTerm, vote: null, commit: voters } })
  return storage
}

/** A cluster whose nodes start from the given logs (terms after the bootstrap entries). */
function clusterWith (logs: number[][], hardTerm: number, options = {}): TestCluster {
  const cluster = new TestCluster(logs.length, options)
  logs.forEach((terms, i) => cluster.addNode(id(i + 1), storageWith(logs.length, terms, hardTerm)))
  cluster.stabilize()
  return cluster
}

const sent = (ready: { earlyMessages: readonly Message[], messages: readonly Message[] } | undefined, type: Message['type']): Message[] =>
  [...ready?.earlyMessages ?? [], ...ready?.messages ?? []].filter(message => message.type === type)

// §5.1: terms

test('§5.1 a node that sees a higher term adopts it and becomes follower, even a leader', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  const leaderTerm = cluster.get(1).node.status().term
  cluster.get(1).node.step({ type: 'appendResponse', from: id(2), to: id(1), term: leaderTerm + 5, index: 0, reject: false, rejectHint: 0, logTerm: 0 })
  t.like(cluster.get(1).node.status(), { role: 'follower', term: leaderTerm + 5, leader: null })
})

test('§5.1 a request with a stale term is rejected, and the answer carries the current term', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  const { term, lastIndex } = cluster.get(2).node.status()
  cluster.get(2).node.step({ type: 'append', from: id(3), to: id(2), term: term - 1, index: lastIndex, logTerm: term, entries: [{ term: term - 1, index: lastIndex + 1, type: 'normal', data: bytes('stale') }], commit: 0 })
  const ready = cluster.processReady(2)
  t.is(cluster.get(2).node.status().lastIndex, lastIndex, 'nothing appended')
  t.like(sent(ready, 'appendResponse')[0], { to: id(3), term })
})

// §5.2: leader election

test('§5.2 election timeouts are random in [ET, 2·ET) ticks', t => {
  const firstCampaignTick = new Set<number>()
  for (let seed = 1; seed <= 60; seed++) {
    const cluster = new TestCluster(3, { seed, preVote: false })
    cluster.stabilize()
    let ticks = 0
    while (cluster.get(1).node.status().role === 'follower') {
      cluster.tick(1)
      ticks++
    }
    firstCampaignTick.add(ticks)
    t.true(ticks >= 10 && ticks < 20, `campaigned after ${ticks} ticks`)
  }
  t.true(firstCampaignTick.size >= 6, 'timeouts spread over the range')
})

test('§5.2 a candidate with a majority of votes becomes leader; the others follow it', t => {
  const cluster = new TestCluster(5)
  cluster.isolate(4)
  cluster.isolate(5)
  cluster.elect(1)
  t.like(cluster.get(1).node.status(), { role: 'leader', term: 2 })
  t.like(cluster.get(2).node.status(), { role: 'follower', leader: id(1), vote: id(1) })
})

test('§5.2 a split vote elects nobody; the next timeout starts a new election at a higher term', t => {
  const cluster = new TestCluster(4, { preVote: false })
  cluster.stabilize()
  cluster.cut.add('1>4').add('4>1').add('2>3').add('3>2').add('1>3').add('2>4')
  // 1 asks 2 first and 3 asks 4 first: two votes each, neither reaches three.
  cluster.get(1).node.campaign()
  cluster.get(3).node.campaign()
  cluster.stabilize()
  t.like(cluster.get(1).node.status(), { role: 'candidate', term: 2 })
  t.like(cluster.get(3).node.status(), { role: 'candidate', term: 2 })
  cluster.heal()
  for (let i = 0; i < 25 && cluster.leader() === undefined; i++) {
    cluster.tick(1)
    cluster.stabilize()
  }
  t.like(cluster.get(1).node.status(), { role: 'leader', term: 3 })
})

test('§5.2 a candidate that hears from a leader of its term steps down', t => {
  const cluster = new TestCluster(3, { preVote: false })
  cluster.stabilize()
  cluster.get(2).node.campaign()
  cluster.processReady(2)
  cluster.queue = []
  const term = cluster.get(2).node.status().term
  cluster.get(2).node.step({ type: 'heartbeat', from: id(3), to: id(2), term, commit: 0, context: 0 })
  t.like(cluster.get(2).node.status(), { role: 'follower', leader: id(3), term })
})

test('§5.2 a node votes for at most one candidate per term, and the vote is persisted before the answer', t => {
  const cluster = new TestCluster(3, { preVote: false })
  cluster.stabilize()
  const { lastIndex } = cluster.get(1).node.status()
  const ask = (from: number): Message => ({ type: 'vote', from: id(from), to: id(1), term: 5, index: lastIndex, logTerm: 1, transfer: false })
  cluster.get(1).node.step(ask(2))
  cluster.get(1).node.step(ask(3))
  const ready = cluster.processReady(1)
  t.deepEqual(sent(ready, 'voteResponse').map(m => [m.to, (m as { reject: boolean }).reject]), [[id(2), false], [id(3), true]])
  t.like(ready?.hardState, { term: 5, vote: id(2) })
  t.true(ready?.mustSync)
  t.like(cluster.get(1).storage.savedHardState(), { term: 5, vote: id(2) })
  // After a restart the vote still holds.
  cluster.restart(1)
  cluster.get(1).node.step(ask(3))
  t.is((sent(cluster.processReady(1), 'voteResponse')[0] as { reject: boolean }).reject, true)
})

// §5.3: log replication

test('§5.3 a follower rejects an append whose previous entry it lacks; the leader backs off and repairs its log', t => {
  // Follower 3 holds entries of a deposed term-2 leader that never committed.
  const cluster = clusterWith([[2, 3], [2, 3], [2, 2, 2, 2]], 3)
  cluster.elect(1)
  cluster.get(1).node.propose(bytes('new'))
  cluster.stabilize()
  const log = (n: number): string[] => {
    const { lastIndex } = cluster.get(n).node.status()
    return cluster.get(n).storage.entries(4, lastIndex + 1, Infinity).map(entry => `${entry.term}:${entry.type === 'normal' ? text(entry.data) : 'conf'}`)
  }
  t.deepEqual(log(3), log(1), 'the conflicting tail was truncated and replaced')
  t.deepEqual(log(1), ['2:t2', '3:t3', '4:', '4:new'])
})

test('§5.3 log matching: a follower never truncates a committed entry', t => {
  const storage = bootstrapStorage([id(1), id(2), id(3)])
  const log = new RaftLog(storage, 0)
  log.append([{ term: 2, index: 4, type: 'normal', data: bytes('a') }])
  log.commitTo(4)
  t.throws(() => log.maybeAppend(3, 1, 4, [{ term: 3, index: 4, type: 'normal', data: bytes('b') }]), { message: /committed entry conflicts/ })
})

test('§5.3 the leader only appends to its own log: it never overwrites or deletes its entries', t => {
  const cluster = clusterWith([[2], [2, 2, 2], [2]], 2)
  cluster.elect(1)
  const before = cluster.get(1).storage.entries(4, 5, Infinity)
  cluster.stabilize()
  t.deepEqual(cluster.get(1).storage.entries(4, 5, Infinity), before)
})

// §5.4.1: election restriction

test('§5.4.1 votes go only to candidates whose log is at least as up to date: last term first, then length', t => {
  const cluster = clusterWith([[3], [3], [2, 2, 2]], 3, { preVote: false })
  // 3 has the longest log, but its last term (2) is older than the others' (3).
  cluster.get(3).node.campaign()
  cluster.stabilize()
  t.not(cluster.get(3).node.status().role, 'leader')
  cluster.get(2).node.campaign()
  cluster.stabilize()
  t.is(cluster.get(2).node.status().role, 'leader')
})

// §5.4.2: committing entries from previous terms (Figure 8)

test('§5.4.2 a leader never commits an older-term entry by counting replicas, only through an entry of its own term', t => {
  // 1 holds an entry of term 2 that no one else has; it wins term 3 and replicates one entry per message.
  const cluster = clusterWith([[2], [], []], 2, { maxSizePerMsgBytes: 1, preVote: false })
  cluster.get(1).node.campaign()
  cluster.processReady(1)
  cluster.deliver()
  for (const n of [2, 3]) cluster.processReady(n)
  cluster.deliver(1)
  cluster.processReady(1)
  t.like(cluster.get(1).node.status(), { role: 'leader', term: 3 })
  // Let the old entry (index 4, term 2) reach follower 2 without the no-op behind it.
  const toTwo = (): Message[] => cluster.queue.filter(m => m.to === id(2))
  for (let round = 0; round < 6 && cluster.get(1).node.status().progress[id(2)]?.match !== 4; round++) {
    cluster.deliver(2)
    cluster.processReady(2)
    const answers = cluster.queue.filter(m => m.to === id(1) && m.from === id(2))
    cluster.queue = cluster.queue.filter(m => !answers.includes(m))
    for (const answer of answers) cluster.get(1).node.step(answer)
    cluster.processReady(1)
    cluster.queue = cluster.queue.filter(m => m.to !== id(3))
    t.true(toTwo().length <= 1)
  }
  t.is(cluster.get(1).node.status().progress[id(2)]?.match, 4, 'a majority (1 and 2) holds the term-2 entry')
  t.is(cluster.get(1).node.status().commit, 3, 'yet it is not committed by counting')
  cluster.stabilize()
  t.is(cluster.get(1).node.status().commit, 5, 'the term-3 no-op commits it')
})

// Thesis §9.6 pre-vote, §6.2 check-quorum, §6.4 reads, §4 membership

test('§9.6 pre-vote: a node cut off from the cluster does not raise its term, and does not disrupt the leader when it returns', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  const { term } = cluster.get(1).node.status()
  cluster.isolate(3)
  for (let i = 0; i < 100; i++) {
    cluster.tick(3)
    cluster.stabilize()
  }
  t.is(cluster.get(3).node.status().term, term, 'pre-votes failed, so no term was spent')
  cluster.heal()
  cluster.tick(1)
  cluster.stabilize()
  t.like(cluster.get(1).node.status(), { role: 'leader', term })
  t.like(cluster.get(3).node.status(), { role: 'follower', leader: id(1), term })
})

test('§6.2 check-quorum: a leader that hears from no majority for an election timeout steps down', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  cluster.isolate(1)
  for (let i = 0; i < 21; i++) {
    cluster.tick(1)
    cluster.stabilize()
  }
  t.like(cluster.get(1).node.status(), { role: 'follower', leader: null })
})

test('§6.4 a new leader answers reads only after an entry of its term commits', t => {
  const cluster = new TestCluster(3)
  cluster.stabilize()
  cluster.get(1).node.campaign()
  // Win the election, but hold back the appends carrying the no-op.
  for (let i = 0; i < 4; i++) {
    for (const n of [1, 2, 3]) cluster.processReady(n)
    cluster.deliver()
  }
  cluster.processReady(1)
  cluster.queue = cluster.queue.filter(m => m.type !== 'append')
  t.is(cluster.get(1).node.status().role, 'leader')
  t.true(cluster.get(1).node.readIndex('early').ok)
  cluster.processReady(1)
  t.deepEqual(cluster.get(1).readStates, [], 'no read state before the no-op commits')
  cluster.tick(1)
  cluster.stabilize()
  t.deepEqual(cluster.get(1).readStates, [{ index: 4, context: 'early' }])
})

test('learners replicate but never vote or campaign', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  cluster.get(1).node.proposeConfChange({ type: 'addLearner', node: id(4) })
  cluster.addNode(id(4), new MemoryStorage())
  cluster.stabilize()
  cluster.get(1).node.propose(bytes('x'))
  cluster.stabilize()
  t.deepEqual(cluster.get(4).applied.map(e => e.type === 'normal' ? text(e.data) : ''), ['x'])
  t.deepEqual(cluster.get(4).conf, { voters: [id(1), id(2), id(3)], learners: [id(4)] })
  for (let i = 0; i < 50; i++) cluster.tick(4)
  cluster.processReady(4)
  t.is(cluster.get(4).node.status().role, 'follower', 'a learner does not campaign')
})

test('membership changes go one at a time', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  t.true(cluster.get(1).node.proposeConfChange({ type: 'addLearner', node: id(4) }).ok)
  t.like(cluster.get(1).node.proposeConfChange({ type: 'addLearner', node: id(5) }), { ok: false, reason: 'confChangePending' })
  cluster.stabilize()
  t.true(cluster.get(1).node.proposeConfChange({ type: 'addLearner', node: id(5) }).ok)
  t.like(cluster.get(1).node.proposeConfChange({ type: 'addVoter', node: id(1) }), { ok: false })
})

test('a repeated or stale message changes nothing', t => {
  const cluster = new TestCluster(3)
  cluster.elect(1)
  cluster.get(1).node.propose(bytes('a'))
  cluster.processReady(1)
  const appends = cluster.queue.filter(m => m.to === id(2))
  cluster.deliver(2)
  cluster.processReady(2)
  const before = cluster.get(2).node.status()
  for (const message of appends) cluster.get(2).node.step(message)
  cluster.processReady(2)
  t.deepEqual(cluster.get(2).node.status(), before)
})
