// Raft messages survive the wire: what the core puts in an append comes out the same on the other side.
import test from 'ava'
import type { NodeId } from '../../src/lib/ids.js'
import { raftCodec } from '../../src/node/raft-codec.js'
import type { Message } from '../../src/raft/types.js'

const leader = '12D3KooWAAAA1' as NodeId
const follower = '12D3KooWBBBB2' as NodeId

/** An append with its entries' data as plain arrays: the decoder hands out Buffers. */
function comparable (message: Message): unknown {
  if (message.type !== 'append') return message
  return { ...message, entries: message.entries.map(entry => entry.type === 'normal' ? { ...entry, data: [...entry.data] } : entry) }
}

const roundTrip = (message: Message): unknown => comparable(raftCodec.decodeMessage(raftCodec.encodeMessage(message)))

test('an append keeps its entries, commit, quiet flag and the leader\'s durable index; absent ones stay absent', t => {
  const full: Message = {
    type: 'append', from: leader, to: follower, term: 3, index: 7, logTerm: 2, commit: 6, quiet: true, durable: 8,
    entries: [{ type: 'normal', term: 3, index: 8, data: new TextEncoder().encode('x') }]
  }
  t.deepEqual(roundTrip(full), comparable(full))
  const plain: Message = { type: 'append', from: leader, to: follower, term: 3, index: 7, logTerm: 2, commit: 6, entries: [] }
  t.deepEqual(roundTrip(plain), comparable(plain))
})
