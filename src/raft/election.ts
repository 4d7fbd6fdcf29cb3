import type { Message } from './types.js'
import type { Raft } from './raft.js'
import { bcastAppend } from './replication.js'
import { handleLeaderMessage } from './follower.js'

/**
 * Starts an election if this node may: with pre-vote first unless `transfer` (the leader handed
 * over, so no one's lease stands in the way).
 */
export function hup (r: Raft, transfer: boolean): void {
  if (r.role === 'leader') return
  if (!r.isPromotable()) {
    r.logger.info('cannot campaign: not a voter or a snapshot is pending', { term: r.term })
    return
  }
  if (r.hasUnappliedConfChanges()) {
    r.logger.info('cannot campaign: committed conf changes not applied yet', { term: r.term, applied: r.log.applied, commit: r.log.committed })
    return
  }
  campaign(r, r.config.preVote && !transfer ? 'preVote' : 'vote', transfer)
}

function campaign (r: Raft, kind: 'preVote' | 'vote', transfer: boolean): void {
  let term: number
  if (kind === 'preVote') {
    r.becomePreCandidate()
    term = r.term + 1
  } else {
    r.becomeCandidate()
    term = r.term
  }
  if (r.tracker.recordVote(r.id, true) === 'won') {
    // A single voter wins at once.
    if (kind === 'preVote') campaign(r, 'vote', transfer)
    else becomeLeaderAndReplicate(r)
    return
  }
  const lastIndex = r.log.lastIndex()
  const lastTerm = r.log.lastTerm()
  for (const id of [...r.tracker.voters].sort()) {
    if (id === r.id) continue
    r.send({ type: kind, from: r.id, to: id, term, index: lastIndex, logTerm: lastTerm, transfer })
  }
  r.logger.info('campaigning', { kind, term, lastIndex, lastTerm })
}

function becomeLeaderAndReplicate (r: Raft): void {
  r.becomeLeader()
  bcastAppend(r)
}

/**
 * A vote or pre-vote request at our term or above (§5.2, §5.4.1). Grant it if we have not voted
 * for someone else this term (a pre-vote for a later term is always open) and the candidate's log
 * is at least as up to date as ours. A granted vote is recorded, and so persisted before the
 * answer goes out.
 */
export function handleVoteRequest (r: Raft, m: Extract<Message, { type: 'vote' | 'preVote' }>): void {
  const canVote = r.vote === m.from ||
    (r.vote === null && r.lead === null) ||
    (m.type === 'preVote' && m.term > r.term)
  const responseType = m.type === 'vote' ? 'voteResponse' : 'preVoteResponse'
  if (canVote && r.log.isUpToDate(m.index, m.logTerm)) {
    r.logger.info('granted vote', { to: m.from, kind: m.type, term: m.term })
    // The answer to a pre-vote carries the term it was asked for, so the candidate can tell it
    // apart from a stale answer.
    r.send({ type: responseType, from: r.id, to: m.from, term: m.term, reject: false })
    if (m.type === 'vote') {
      r.electionElapsed = 0
      r.vote = m.from
    }
  } else {
    r.logger.info('rejected vote', { to: m.from, kind: m.type, term: m.term, votedFor: r.vote, lastIndex: r.log.lastIndex(), lastTerm: r.log.lastTerm() })
    r.send({ type: responseType, from: r.id, to: m.from, term: r.term, reject: true })
  }
}

/** A candidate or pre-candidate counts votes, and yields to a leader of its term. */
export function stepCandidate (r: Raft, m: Message): void {
  switch (m.type) {
    case 'append':
    case 'heartbeat':
    case 'snapshot':
      r.becomeFollower(m.term, m.from)
      handleLeaderMessage(r, m)
      return
    case 'voteResponse':
    case 'preVoteResponse': {
      const expected = r.role === 'preCandidate' ? 'preVoteResponse' : 'voteResponse'
      if (m.type !== expected) return
      const result = r.tracker.recordVote(m.from, !m.reject)
      r.logger.info('received vote', { from: m.from, kind: m.type, granted: !m.reject, term: m.term })
      if (result === 'won') {
        if (r.role === 'preCandidate') campaign(r, 'vote', false)
        else becomeLeaderAndReplicate(r)
      } else if (result === 'lost') {
        // Back to follower in the current term; a later timeout may try again.
        r.becomeFollower(r.term, null)
      }
      return
    }
    default:
      return
  }
}
