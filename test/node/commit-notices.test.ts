import test from 'ava'
import type { NodeId } from '../../src/lib/ids.js'
import { CommitNotices, type NoticeTimers } from '../../src/node/commit-notices.js'
import type { Entry, Message } from '../../src/raft/types.js'

const leader = 'a' as NodeId
const b = 'b' as NodeId
const c = 'c' as NodeId

function append (to: NodeId, commit: number, entries: readonly Entry[] = []): Message {
  return { type: 'append', from: leader, to, term: 2, index: 5, logTerm: 2, entries, commit }
}

function entry (index: number): Entry {
  return { type: 'normal', term: 2, index, data: new Uint8Array([index]) }
}

/** Timers that fire only when the test says so. */
function manualTimers (): NoticeTimers & { fire: () => void, pending: () => number } {
  let callbacks: Array<() => void> = []
  return {
    set: callback => { callbacks.push(callback); return callback },
    clear: handle => { callbacks = callbacks.filter(callback => callback !== handle) },
    fire: () => { const due = callbacks; callbacks = []; for (const callback of due) callback() },
    pending: () => callbacks.length
  }
}

function setup (): { notices: CommitNotices, sent: Message[][], timers: ReturnType<typeof manualTimers> } {
  const sent: Message[][] = []
  const timers = manualTimers()
  const notices = new CommitNotices(messages => { sent.push([...messages]) }, 5, timers)
  return { notices, sent, timers }
}

test('appends with entries and other messages go out at once, in order', t => {
  const { notices, sent, timers } = setup()
  const heartbeat: Message = { type: 'heartbeat', from: leader, to: b, term: 2, commit: 4, context: 0 }
  notices.deliver([append(b, 4, [entry(6)]), heartbeat, append(c, 4, [entry(6)])])
  t.deepEqual(sent, [[append(b, 4, [entry(6)]), heartbeat, append(c, 4, [entry(6)])]])
  t.is(timers.pending(), 0)
})

test('a commit notice is held, and replaced by the next append to the same follower', t => {
  const { notices, sent, timers } = setup()
  notices.deliver([append(b, 6), append(c, 6)])
  t.deepEqual(sent, [])
  t.is(timers.pending(), 1)
  notices.deliver([append(b, 6, [entry(7)])])
  t.deepEqual(sent, [[append(b, 6, [entry(7)])]])
  timers.fire()
  // Only c's notice was still held.
  t.deepEqual(sent, [[append(b, 6, [entry(7)])], [append(c, 6)]])
})

test('once every held notice is replaced the hold ends, and the next notice gets a whole one', t => {
  const { notices, sent, timers } = setup()
  notices.deliver([append(b, 6), append(c, 6)])
  notices.deliver([append(b, 6, [entry(7)]), append(c, 6, [entry(7)])])
  t.is(timers.pending(), 0, 'no hold left running for notices that were replaced')
  notices.deliver([append(b, 7), append(c, 7)])
  t.is(timers.pending(), 1)
  t.is(sent.length, 1)
  timers.fire()
  t.deepEqual(sent[1], [append(b, 7), append(c, 7)])
})

test('a newer notice to the same follower replaces the held one', t => {
  const { notices, sent, timers } = setup()
  notices.deliver([append(b, 6)])
  notices.deliver([append(b, 7)])
  t.is(timers.pending(), 1)
  timers.fire()
  t.deepEqual(sent, [[append(b, 7)]])
})

test('a follower waiting on a forwarded proposal gets notices at once until one covers it', t => {
  const { notices, sent, timers } = setup()
  notices.expect(b, 8, 'proposal')
  notices.deliver([append(b, 7), append(c, 7)])
  t.deepEqual(sent, [[append(b, 7)]])
  notices.deliver([append(b, 8), append(c, 8)])
  t.deepEqual(sent, [[append(b, 7)], [append(b, 8)]])
  // Covered: b's notices are held again.
  notices.deliver([append(b, 9)])
  t.is(sent.length, 2)
  timers.fire()
  t.deepEqual(sent[2], [append(c, 8), append(b, 9)])
})

test('a notice that the leader\'s disk holds a forwarded proposal covers it; a forwarded read waits for the commit', t => {
  const { notices, sent, timers } = setup()
  const durable = (to: NodeId, commit: number, leaderDisk: number): Message => ({ type: 'append', from: leader, to, term: 2, index: 5, logTerm: 2, entries: [], commit, quiet: true, durable: leaderDisk })
  notices.expect(b, 8, 'proposal')
  notices.expect(c, 8, 'read')
  notices.deliver([durable(b, 7, 7), durable(c, 7, 8)])
  // Neither is covered yet: b's is below 8, and a read is not served by the leader's disk.
  t.deepEqual(sent, [[durable(b, 7, 7), durable(c, 7, 8)]])
  notices.deliver([durable(b, 7, 8)])
  t.deepEqual(sent[1], [durable(b, 7, 8)])
  // b commits index 8 itself once its own disk holds it: the commit notice may wait.
  notices.deliver([append(b, 8), append(c, 8)])
  t.deepEqual(sent[2], [append(c, 8)])
  t.is(timers.pending(), 1)
  timers.fire()
  t.deepEqual(sent[3], [append(b, 8)])
})

test('flush sends what is held now; stop forgets it', t => {
  const { notices, sent, timers } = setup()
  notices.deliver([append(b, 6)])
  notices.flush()
  t.deepEqual(sent, [[append(b, 6)]])
  t.is(timers.pending(), 0)
  notices.deliver([append(c, 7)])
  notices.stop()
  t.is(timers.pending(), 0)
  t.is(sent.length, 1)
})
