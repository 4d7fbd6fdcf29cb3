import type { NodeId } from '../lib/ids.js'
import type { Acceptance, Raft } from './raft.js'
import type { Progress } from './progress.js'
import { entrySizeBytes, type Entry, type EntryPayload, type Message } from './types.js'

/** Appends payloads to the leader's log in its term and counts them as replicated on the leader. Returns the new last index. */
export function appendEntries (r: Raft, payloads: readonly EntryPayload[]): number {
  let index = r.log.lastIndex()
  const entries: Entry[] = payloads.map(payload => ({ ...payload, term: r.term, index: ++index }) as Entry)
  for (const entry of entries) r.uncommittedBytes += entrySizeBytes(entry)
  const lastIndex = r.log.append(entries)
  r.tracker.progress.get(r.id)?.maybeUpdate(lastIndex)
  // With a single voter this commits at once; the entries are persisted before they are applied.
  r.maybeCommit()
  return lastIndex
}

/** Sends what each follower is missing. */
export function bcastAppend (r: Raft): void {
  for (const id of r.tracker.members()) if (id !== r.id) sendAppend(r, id)
}

/**
 * Sends one append to `to`, or a snapshot chunk when the entries it needs are compacted away.
 * Returns false when nothing was sent (the follower is paused or has everything).
 */
export function sendAppend (r: Raft, to: NodeId, sendIfEmpty = true): boolean {
  const progress = r.tracker.progress.get(to)
  if (progress === undefined || progress.isPaused()) return false
  const prevIndex = progress.next - 1
  const prevTerm = r.log.term(prevIndex)
  const lastIndex = r.log.lastIndex()
  const entries = progress.next <= lastIndex ? r.log.slice(progress.next, lastIndex + 1, r.config.maxSizePerMsgBytes) : []
  if (prevTerm === undefined || entries === undefined) return startSnapshot(r, to, progress)
  if (entries.length === 0 && !sendIfEmpty) return false
  const durable = durableFor(r, to)
  const append: Message = durable === undefined
    ? { type: 'append', from: r.id, to, term: r.term, index: prevIndex, logTerm: prevTerm, entries, commit: r.log.committed }
    : { type: 'append', from: r.id, to, term: r.term, index: prevIndex, logTerm: prevTerm, entries, commit: r.log.committed, durable }
  // A follower known to hold everything sent so far only learns the commit index from an empty
  // append: its answer would only repeat its match. (Probes and everything else are answered.)
  r.send(entries.length === 0 && progress.state === 'replicate' && progress.match === prevIndex ? { ...append, quiet: true } : append)
  const last = entries[entries.length - 1]
  if (last !== undefined) {
    if (progress.state === 'replicate') {
      progress.optimisticUpdate(last.index)
      progress.inflights.add(last.index, entries.reduce((total, entry) => total + entrySizeBytes(entry), 0))
    } else {
      progress.probeSent = true
    }
  } else if (progress.state === 'probe') {
    progress.probeSent = true
  }
  return true
}

/**
 * What the leader may tell follower `to` of its own disk (`durable` on its appends): how far its
 * log is durable. Only a voter that is a majority together with the leader, under a membership
 * with no change pending, is told: such a follower holding an entry of this term on its own disk
 * knows it is on a quorum — committed, by the very rule the leader commits by — without waiting
 * to hear it from the leader (`inferCommit`). Reads wait for what was told (`readFloor`), so only
 * followers with forwarded proposals outstanding are told: only they have clients to answer early.
 */
function durableFor (r: Raft, to: NodeId): number | undefined {
  if (!r.forwarders.has(to) || r.pendingConfIndex > r.log.applied || !r.tracker.isPairQuorum(r.id, to)) return undefined
  const durable = r.log.stableIndex()
  if (durable > r.durableAnnounced) r.durableAnnounced = durable
  return durable
}

/**
 * Once the leader's own write is durable: tells each follower that forwarded proposals still
 * uncommitted how far the leader's disk now holds its log, so that the follower commits them
 * (and answers its clients) as soon as its own disk holds them, rather than after its answer
 * reached the leader and the leader's commit notice came back: two hops fewer on a write
 * through a follower. The notice is a quiet empty append at what the follower is known to hold.
 */
export function announceDurable (r: Raft): void {
  const durable = r.log.stableIndex()
  for (const [id, last] of r.forwarders) {
    const progress = r.tracker.progress.get(id)
    if (progress === undefined || last <= r.log.committed) {
      r.forwarders.delete(id)
      continue
    }
    if (durable <= r.log.committed) continue
    const told = durableFor(r, id)
    const matchTerm = r.log.term(progress.match)
    if (told === undefined || matchTerm === undefined || progress.state !== 'replicate') {
      r.forwarders.delete(id)
      continue
    }
    r.send({ type: 'append', from: r.id, to: id, term: r.term, index: progress.match, logTerm: matchTerm, entries: [], commit: r.log.committed, quiet: true, durable: told })
    if (last <= durable) r.forwarders.delete(id)
  }
}

/** Begins an InstallSnapshot to a follower whose next entry is compacted away, if it is reachable. */
function startSnapshot (r: Raft, to: NodeId, progress: Progress): boolean {
  // A follower not heard from lately is not sent a possibly large snapshot.
  if (!progress.recentActive) return false
  const snapshot = r.log.snapshot()
  if (snapshot === undefined) {
    // The storage is fetching its data from disk; the next heartbeat's answer asks again.
    r.logger.debug('snapshot not at hand yet', { to })
    return false
  }
  r.logger.info('sending snapshot', { to, index: snapshot.metadata.index, term: snapshot.metadata.term, bytes: snapshot.data.byteLength })
  progress.becomeSnapshot(snapshot)
  sendSnapshotChunk(r, to, progress)
  return true
}

/** Sends the chunk of the snapshot in transfer that starts where the follower's acknowledgement ends. */
function sendSnapshotChunk (r: Raft, to: NodeId, progress: Progress): void {
  const transfer = progress.transfer
  if (transfer === undefined) return
  const { data, metadata } = transfer.snapshot
  const offset = transfer.ackedBytes
  const chunk = data.subarray(offset, Math.min(data.byteLength, offset + r.config.snapshotChunkBytes))
  transfer.sentBytes = offset + chunk.byteLength
  transfer.stalledHeartbeats = 0
  r.send({ type: 'snapshot', from: r.id, to, term: r.term, metadata, offset, chunk, totalBytes: data.byteLength })
}

/** Heartbeats carry the commit index (capped at what each follower has) and the newest read waiting for confirmation. */
export function bcastHeartbeat (r: Raft): void {
  const context = r.reads.newestId()
  for (const id of r.tracker.members()) {
    if (id === r.id) continue
    const progress = r.tracker.progress.get(id)
    const commit = Math.min(progress?.match ?? 0, r.log.committed)
    r.send({ type: 'heartbeat', from: r.id, to: id, term: r.term, commit, context })
  }
}

export function sendTimeoutNow (r: Raft, to: NodeId): void {
  r.send({ type: 'timeoutNow', from: r.id, to, term: r.term })
}

/**
 * The leader answers a read (its own, or one a follower forwarded): with its commit index, once a
 * quorum confirms it still leads. Before it has committed an entry of its term its commit index may
 * be stale, so the read waits (thesis §6.4; etcd #7331).
 */
export function serveRead (r: Raft, from: NodeId, context: string): Acceptance {
  if (r.log.term(r.log.committed) !== r.term) {
    if (r.earlyReads.length >= r.config.maxPendingReads) return { ok: false, reason: 'readLimit', leader: r.lead }
    r.earlyReads.push({ from, context })
    return { ok: true }
  }
  const index = r.readFloor()
  if (r.tracker.voters.size === 1) {
    answerRead(r, { index, from, context })
    return { ok: true }
  }
  if (r.reads.size() >= r.config.maxPendingReads) return { ok: false, reason: 'readLimit', leader: r.lead }
  r.reads.add({ index, from, context }, r.id)
  bcastHeartbeat(r)
  return { ok: true }
}

function answerRead (r: Raft, read: { index: number, from: NodeId, context: string }): void {
  if (read.from === r.id) r.readStates.push({ index: read.index, context: read.context })
  else r.send({ type: 'readIndexResponse', from: r.id, to: read.from, term: r.term, index: read.index, context: read.context })
}

/** The leader's handling of messages (§5.3 replication, §6.4 reads, thesis §3.10 transfer). */
export function stepLeader (r: Raft, m: Message): void {
  switch (m.type) {
    case 'propose':
      if (r.acceptProposal(m.entries).ok) r.forwarders.set(m.from, r.log.lastIndex())
      return
    case 'readIndex':
      serveRead(r, m.from, m.context)
      return
    case 'appendResponse':
      handleAppendResponse(r, m)
      return
    case 'heartbeatResponse':
      handleHeartbeatResponse(r, m)
      return
    case 'snapshotResponse':
      handleSnapshotResponse(r, m)
      return
    default:
      return
  }
}

function handleAppendResponse (r: Raft, m: Extract<Message, { type: 'appendResponse' }>): void {
  const progress = r.tracker.progress.get(m.from)
  if (progress === undefined) return
  progress.recentActive = true
  if (m.reject) {
    // Fast back-off: skip straight to where the follower's log may agree with ours.
    const hint = m.logTerm > 0 ? r.log.findConflictByTerm(m.rejectHint, m.logTerm) : m.rejectHint
    if (progress.maybeDecrTo(m.index, hint)) {
      r.logger.debug('append rejected, backing off', { from: m.from, rejected: m.index, next: progress.next })
      if (progress.state === 'replicate') progress.becomeProbe()
      sendAppend(r, m.from)
    }
    return
  }
  const wasPaused = progress.isPaused()
  // An answer at what is already known to match still ends probing (etcd: Match == Index in probe).
  if (!progress.maybeUpdate(m.index) && !(progress.state === 'probe' && progress.match === m.index)) return
  if (progress.state === 'probe') {
    progress.becomeReplicate()
  } else if (progress.state === 'snapshot' && progress.match >= (progress.transfer?.snapshot.metadata.index ?? 0)) {
    // The follower installed the snapshot (or caught up otherwise): probe from after it.
    progress.becomeProbe()
    progress.becomeReplicate()
  } else if (progress.state === 'replicate') {
    progress.inflights.freeLE(m.index)
  }
  if (r.maybeCommit()) {
    bcastAppend(r)
  } else if (wasPaused) {
    sendAppend(r, m.from)
  }
  // Pipelining: keep the window full while there is more to send.
  while (sendAppend(r, m.from, false)) { /* keep sending */ }
  if (m.from === r.leadTransferee && progress.match === r.log.lastIndex()) {
    r.logger.info('transferee caught up, handing over', { to: m.from })
    sendTimeoutNow(r, m.from)
  }
}

function handleHeartbeatResponse (r: Raft, m: Extract<Message, { type: 'heartbeatResponse' }>): void {
  const progress = r.tracker.progress.get(m.from)
  if (progress === undefined) return
  progress.recentActive = true
  progress.probeSent = false
  // The follower is alive; if all appends in flight were lost, free a slot so that one more append
  // goes out, finds the gap, and turns the follower back to probing.
  if (progress.state === 'replicate' && progress.inflights.isFull()) progress.inflights.freeFirst()
  if (progress.state === 'snapshot') {
    const transfer = progress.transfer
    if (transfer !== undefined && ++transfer.stalledHeartbeats >= Math.ceil(r.config.electionTicks / r.config.heartbeatTicks)) {
      if (transfer.ackedBytes >= transfer.snapshot.data.byteLength) {
        // Every chunk arrived but the follower's answer after installing was lost: find out where it stands.
        progress.becomeProbe()
        sendAppend(r, m.from)
      } else {
        // No progress for an election timeout: the chunk in flight (or its answer) was lost.
        sendSnapshotChunk(r, m.from, progress)
      }
    }
  } else if (progress.match < r.log.lastIndex()) {
    sendAppend(r, m.from)
  }
  if (m.context === 0) return
  const acks = r.reads.acknowledge(m.context, m.from)
  if (acks === undefined || r.tracker.voteResult(id => acks.has(id) ? true : undefined) !== 'won') return
  for (const read of r.reads.release(m.context)) answerRead(r, read)
}

function handleSnapshotResponse (r: Raft, m: Extract<Message, { type: 'snapshotResponse' }>): void {
  const progress = r.tracker.progress.get(m.from)
  if (progress === undefined) return
  progress.recentActive = true
  const transfer = progress.transfer
  if (progress.state !== 'snapshot' || transfer === undefined || transfer.snapshot.metadata.index !== m.index) return
  if (m.reject) {
    r.logger.info('snapshot refused, probing again', { from: m.from, index: m.index })
    progress.becomeProbe()
    return
  }
  const total = transfer.snapshot.data.byteLength
  if (m.offset > transfer.ackedBytes && m.offset <= total) {
    // Progress: the next chunk goes out once the follower holds everything sent so far.
    transfer.ackedBytes = m.offset
    transfer.stalledHeartbeats = 0
    if (m.offset >= transfer.sentBytes && m.offset < total) sendSnapshotChunk(r, m.from, progress)
  } else if (m.offset === 0 && transfer.ackedBytes > 0) {
    // The follower holds nothing of this snapshot (it restarted, or took up another): start over.
    transfer.ackedBytes = 0
    sendSnapshotChunk(r, m.from, progress)
  }
  // Anything else is a duplicate or reordered answer.
}
