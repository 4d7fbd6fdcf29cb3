import { assert } from '../lib/assert.js'
import type { NodeId } from '../lib/ids.js'
import type { Logger } from '../lib/logger.js'
import { randomInt } from '../lib/rng.js'
import { resolveRaftConfig, type RaftConfig, type ResolvedRaftConfig } from './config.js'
import { handleVoteRequest, hup, stepCandidate } from './election.js'
import { handleLeaderMessage, inferCommit, type IncomingSnapshot } from './follower.js'
import { RaftLog } from './log.js'
import { ReadIndexQueue } from './read-index.js'
import { announceDurable, appendEntries, bcastAppend, bcastHeartbeat, sendAppend, sendTimeoutNow, serveRead, stepLeader } from './replication.js'
import type { RaftStorage } from './storage.js'
import { ProgressTracker } from './tracker.js'
import { entrySizeBytes, type ConfChange, type ConfState, type Entry, type EntryPayload, type Message, type ReadState, type Role } from './types.js'

/** Why a proposal, read or transfer was not taken. The caller retries later or elsewhere. */
export type RefusalReason =
  | 'noLeader' | 'notLeader' | 'transferring' | 'removed' | 'confChangePending' | 'invalidConfChange'
  | 'uncommittedLimit' | 'readLimit' | 'learner' | 'unknownNode'

/** The outcome of `propose`, `readIndex` and `transferLeadership`. `ok` does not mean committed: only that the request is on its way. */
export type Acceptance = { readonly ok: true } | { readonly ok: false, readonly reason: RefusalReason, readonly leader: NodeId | null }

/** A read asked for before the leader committed an entry of its term: it waits for that commit (thesis §6.4). */
interface EarlyRead {
  readonly from: NodeId
  readonly context: string
}

/**
 * The Raft consensus algorithm as a synchronous, deterministic state machine (after etcd-raft's
 * `raft` struct). It never performs I/O: messages to send collect in `msgs`, answered reads in
 * `readStates`, and the log's unstable tail waits for the application to persist it. `RawNode`
 * wraps it with the Ready/Advance protocol. Handlers for each role live beside it in
 * election.ts, replication.ts and follower.ts.
 */
export class Raft {
  readonly id: NodeId
  readonly config: ResolvedRaftConfig
  readonly logger: Logger
  readonly log: RaftLog
  tracker: ProgressTracker

  term = 0
  vote: NodeId | null = null
  lead: NodeId | null = null
  role: Role = 'follower'

  /** Messages to send once the current Ready is persisted. */
  msgs: Message[] = []
  /** Reads confirmed since the last Ready. */
  readStates: ReadState[] = []

  electionElapsed = 0
  heartbeatElapsed = 0
  randomizedElectionTimeout = 0
  /** The node leadership is being handed to, while a transfer is under way. */
  leadTransferee: NodeId | null = null
  /** The index of the newest conf change proposed; a second waits until it is applied (one change at a time). */
  pendingConfIndex = 0
  /** Bytes of entries appended in this term and not yet applied (leader only). */
  uncommittedBytes = 0
  reads = new ReadIndexQueue()
  earlyReads: EarlyRead[] = []
  /** The log index the membership in `tracker` is current as of: a snapshot's, or the last conf change applied. */
  confIndex = 0
  /** Proposals were appended since the last broadcast: send them all at once when the Ready is taken. */
  broadcastPending = false
  incomingSnapshot: IncomingSnapshot | undefined
  /** Follower: how far the leader of this term said its log is on its disk (`inferCommit`). */
  leaderDurable = 0
  /** Leader: the highest `durable` told to a follower in this term; reads wait for it (`readFloor`). */
  durableAnnounced = 0
  /** Leader: per follower, the last index of the proposals it forwarded that may still need a `durable` (`announceDurable`). */
  forwarders = new Map<NodeId, number>()

  constructor (config: RaftConfig, storage: RaftStorage) {
    this.config = resolveRaftConfig(config)
    this.id = config.id
    this.logger = config.logger
    const { hardState, conf } = storage.initialState()
    this.log = new RaftLog(storage, this.config.applied)
    this.tracker = new ProgressTracker(conf, this.config.maxInflightMsgs, this.config.maxInflightBytes)
    this.confIndex = storage.snapshotMetadata().index
    this.replayAppliedConfChanges()
    this.term = hardState.term
    this.vote = hardState.vote
    this.becomeFollower(this.term, null)
    this.logger.info('started', { term: this.term, commit: this.log.committed, applied: this.log.applied, lastIndex: this.log.lastIndex(), voters: conf.voters.join(',') })
  }

  /**
   * On restart the membership comes from the snapshot; conf changes the application already applied
   * after it are not handed out again, so replay them here.
   */
  private replayAppliedConfChanges (): void {
    let lo = this.confIndex + 1
    const hi = this.log.applied + 1
    while (lo < hi) {
      const entries: Entry[] = this.log.slice(lo, hi, this.config.maxCommittedBytesPerReady) ?? []
      if (entries.length === 0) return
      for (const entry of entries) {
        if (entry.type !== 'confChange') continue
        this.tracker.applyChange(entry.change, this.log.lastIndex())
        this.confIndex = entry.index
      }
      lo = (entries[entries.length - 1] as Entry).index + 1
    }
  }

  // ---- time ----

  /** One tick of logical time: followers and candidates count toward an election, leaders toward heartbeats and quorum checks. */
  tick (): void {
    if (this.role === 'leader') this.tickLeader()
    else this.tickElection()
  }

  private tickElection (): void {
    this.electionElapsed++
    if (this.isPromotable() && this.electionElapsed >= this.electionTimeout()) {
      this.electionElapsed = 0
      hup(this, false)
    }
  }

  /**
   * How many ticks without word from a leader make this node campaign. A follower of a leader
   * heard its last heartbeat at about the moment the other followers did (within a tick), so
   * instead of a random wait it campaigns one tick after the leader's lease has lapsed everywhere,
   * staggered by its rank among the other voters (by id, two ticks apart): the first survivor's
   * pre-vote finds the others out of the lease, and the next waits long enough for it to win.
   * Random draws only made the first campaign later and, now and then, split the vote between two
   * close draws. A split is still possible when the followers last heard the leader ticks apart,
   * or see different memberships; the campaign clears `lead`, so the next round is random again.
   * A node without a leader (at start, after a campaign) keeps the random
   * [electionTicks, 2·electionTicks) of §5.2. The price: a leader stalled for a little over an
   * election timeout is always replaced, where random draws sometimes let it return. Timing bears
   * on liveness only, never on safety.
   */
  private electionTimeout (): number {
    if (this.role !== 'follower' || this.lead === null) return this.randomizedElectionTimeout
    const rank = this.rankWithout(this.lead)
    return rank < 0 ? this.randomizedElectionTimeout : this.config.electionTicks + 1 + 2 * rank
  }

  /** This node's place among the voters other than `peer`, by id (-1 when it is not a voter). */
  private rankWithout (peer: NodeId): number {
    return [...this.tracker.voters].filter(id => id !== peer).sort().indexOf(this.id)
  }

  /**
   * The transport saw `peer` go away: its connection closed and a new one was refused, as when
   * its process died. A follower whose leader that was stops counting on it: the leader's lease
   * no longer makes it ignore candidates, and it campaigns after a wait set by its rank among the
   * other voters (lowest id first, two ticks apart, so that two survivors do not split the vote)
   * instead of a whole randomized election timeout. Raft's safety does not rest on timing: a
   * wrong report costs at most a pre-vote that the voters still hearing the leader refuse (without
   * pre-vote it could cost the leader its term, so the report is then ignored). Nothing else may
   * lean on the leader lease either: reads and lease keep-alives confirm leadership with a quorum
   * (ReadIndex) rather than trusting that no one can be elected within an election timeout.
   */
  peerGone (peer: NodeId): void {
    if (!this.config.preVote || this.role !== 'follower' || this.lead !== peer) return
    // A report that comes late (the leader hung, then died) counts from this node's turn in the
    // silent-leader order, not from its random draw, so the survivors keep their order of rank.
    const turnTicks = this.electionTimeout() - this.electionElapsed
    this.lead = null
    if (!this.isPromotable()) return
    const waitTicks = Math.max(1, Math.min(1 + 2 * this.rankWithout(peer), turnTicks))
    this.electionElapsed = Math.max(0, this.randomizedElectionTimeout - waitTicks)
    this.logger.info('leader gone: campaigning early', { leader: peer, term: this.term, waitTicks })
  }

  private tickLeader (): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0
      if (this.config.checkQuorum && !this.tracker.checkQuorumActive(this.id)) {
        this.logger.warn('stepped down: quorum not heard from', { term: this.term })
        this.becomeFollower(this.term, null)
        return
      }
      // A transfer that has not finished within an election timeout is given up.
      if (this.leadTransferee !== null) this.abortLeaderTransfer('timed out')
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0
      bcastHeartbeat(this)
    }
  }

  // ---- roles ----

  private reset (term: number): void {
    if (this.term !== term) {
      this.term = term
      this.vote = null
      // A transfer under way belongs to the old term's leader.
      this.incomingSnapshot = undefined
    }
    this.lead = null
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.randomizedElectionTimeout = randomInt(this.config.rng, this.config.electionTicks, 2 * this.config.electionTicks)
    this.leadTransferee = null
    this.tracker.resetVotes()
    this.tracker.resetProgress(this.id, this.log.lastIndex())
    this.pendingConfIndex = 0
    this.uncommittedBytes = 0
    this.reads = new ReadIndexQueue()
    this.earlyReads = []
    this.broadcastPending = false
    this.leaderDurable = 0
    this.durableAnnounced = 0
    this.forwarders.clear()
  }

  becomeFollower (term: number, lead: NodeId | null): void {
    this.reset(term)
    this.lead = lead
    this.role = 'follower'
    this.logger.info('became follower', { term, leader: lead })
  }

  becomePreCandidate (): void {
    assert(this.role !== 'leader', 'a leader cannot become pre-candidate')
    // Pre-vote changes neither term nor vote: a node that cannot win disturbs no one (thesis §9.6).
    this.tracker.resetVotes()
    this.lead = null
    this.role = 'preCandidate'
    this.logger.info('became pre-candidate', { term: this.term })
  }

  becomeCandidate (): void {
    assert(this.role !== 'leader', 'a leader cannot become candidate')
    this.reset(this.term + 1)
    this.vote = this.id
    this.role = 'candidate'
    this.logger.info('became candidate', { term: this.term })
  }

  becomeLeader (): void {
    assert(this.role === 'candidate', 'only a candidate becomes leader', { role: this.role })
    this.reset(this.term)
    this.lead = this.id
    this.role = 'leader'
    this.tracker.progress.get(this.id)?.becomeReplicate()
    // Conf changes in the uncommitted tail may still be pending; count the whole tail as such.
    this.pendingConfIndex = this.log.lastIndex()
    // A no-op entry of the new term commits the entries of earlier terms (§5.4.2) and lets reads
    // be served once it commits (thesis §6.4).
    appendEntries(this, [{ type: 'normal', data: new Uint8Array() }])
    this.logger.info('became leader', { term: this.term })
  }

  /** A voter that is not waiting for a snapshot to be persisted may campaign. */
  isPromotable (): boolean {
    return this.tracker.isVoter(this.id) && this.log.pendingSnapshot() === undefined
  }

  // ---- messages ----

  /** Queues a message for sending once the current Ready is persisted. */
  send (message: Message): void {
    assert(message.to !== this.id, 'a node does not send to itself', { type: message.type })
    this.msgs.push(message)
  }

  /**
   * Handles one message from another node: the term rules of §5.1 first, then the role's own
   * handler. Only forwarded proposals and reads are term-less; any other message is judged by its term.
   */
  step (m: Message): void {
    const termless = m.type === 'propose' || m.type === 'readIndex'
    if (m.term > this.term && !termless) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Check-quorum's other half: while in touch with a leader, ignore candidates (unless the
        // leader itself asked for the election by transferring leadership).
        const inLease = this.config.checkQuorum && this.lead !== null && this.electionElapsed < this.config.electionTicks
        if (inLease && !m.transfer) {
          this.logger.info('ignored vote request in leader lease', { from: m.from, type: m.type, term: m.term, remainingTicks: this.config.electionTicks - this.electionElapsed })
          return
        }
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResponse' && !m.reject)) {
        // A pre-vote and a granted answer to one carry the next term without anyone being in it yet.
      } else if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        this.becomeFollower(m.term, m.from)
      } else {
        this.becomeFollower(m.term, null)
      }
    } else if (m.term < this.term && !termless) {
      if ((this.config.checkQuorum || this.config.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
        // A stale leader cut off by pre-vote would never learn of the new term: tell it.
        this.send({ type: 'appendResponse', from: this.id, to: m.from, term: this.term, index: 0, reject: false, rejectHint: 0, logTerm: 0 })
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResponse', from: this.id, to: m.from, term: this.term, reject: true })
      }
      return
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      handleVoteRequest(this, m)
      return
    }
    switch (this.role) {
      case 'leader': stepLeader(this, m); break
      case 'candidate':
      case 'preCandidate': stepCandidate(this, m); break
      case 'follower': this.stepFollower(m); break
    }
  }

  private stepFollower (m: Message): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        // Heard from the leader: its lease holds, and the election timer starts over.
        this.electionElapsed = 0
        this.lead = m.from
        handleLeaderMessage(this, m)
        break
      case 'timeoutNow':
        this.logger.info('leadership handed over', { from: m.from, term: this.term })
        hup(this, true)
        break
      case 'readIndexResponse':
        this.readStates.push({ index: m.index, context: m.context })
        break
      default:
        // Proposals and reads forwarded to a former leader are dropped; their callers retry.
        break
    }
  }

  // ---- requests from the application ----

  /** Proposes entries. A follower forwards them to the leader it knows. */
  propose (payloads: readonly EntryPayload[]): Acceptance {
    if (this.role !== 'leader') {
      if (this.lead === null || this.role !== 'follower') return this.refuse('noLeader')
      this.send({ type: 'propose', from: this.id, to: this.lead, term: 0, entries: payloads })
      return { ok: true }
    }
    return this.acceptProposal(payloads)
  }

  /** The leader's checks on a proposal, local or forwarded. */
  acceptProposal (payloads: readonly EntryPayload[]): Acceptance {
    if (!this.tracker.progress.has(this.id)) return this.refuse('removed')
    if (this.leadTransferee !== null) return this.refuse('transferring')
    const changes = payloads.filter(payload => payload.type === 'confChange')
    if (changes.length > 0) {
      if (changes.length > 1 || this.pendingConfIndex > this.log.applied) return this.refuse('confChangePending')
      if (!this.isValidChange((changes[0] as { change: ConfChange }).change)) return this.refuse('invalidConfChange')
    }
    const bytes = payloads.reduce((total, payload) => total + entrySizeBytes(payload), 0)
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.config.maxUncommittedEntriesBytes) return this.refuse('uncommittedLimit')
    const lastIndex = appendEntries(this, payloads)
    if (changes.length > 0) {
      const position = payloads.findIndex(payload => payload.type === 'confChange')
      this.pendingConfIndex = lastIndex - payloads.length + 1 + position
    }
    // Batching: proposals arriving between two Readies go out in one append per follower.
    this.broadcastPending = true
    return { ok: true }
  }

  /** A change must fit the current membership, and may not remove the last voter. */
  private isValidChange (change: ConfChange): boolean {
    const { voters, learners } = this.tracker
    switch (change.type) {
      case 'addLearner': return !voters.has(change.node) && !learners.has(change.node)
      case 'addVoter': return !voters.has(change.node)
      case 'removeNode': return (voters.has(change.node) && voters.size > 1) || learners.has(change.node)
    }
  }

  /**
   * Asks for a linearizable read (thesis §6.4). The answer arrives as a `ReadState` carrying
   * `context`; the read may be served once applied ≥ its index.
   */
  readIndex (context: string): Acceptance {
    if (this.role === 'leader') return serveRead(this, this.id, context)
    if (this.role !== 'follower' || this.lead === null) return this.refuse('noLeader')
    this.send({ type: 'readIndex', from: this.id, to: this.lead, term: 0, context })
    return { ok: true }
  }

  /** Hands leadership to `to` (thesis §3.10): catch it up, then tell it to campaign at once. */
  transferLeadership (to: NodeId): Acceptance {
    if (this.role !== 'leader') return this.refuse('notLeader')
    if (to === this.id) return { ok: true }
    const progress = this.tracker.progress.get(to)
    if (progress === undefined) return this.refuse('unknownNode')
    if (progress.isLearner) return this.refuse('learner')
    if (this.leadTransferee === to) return { ok: true }
    if (this.leadTransferee !== null) this.abortLeaderTransfer('superseded')
    this.logger.info('transferring leadership', { to, term: this.term })
    this.electionElapsed = 0
    this.leadTransferee = to
    if (progress.match === this.log.lastIndex()) sendTimeoutNow(this, to)
    else sendAppend(this, to)
    return { ok: true }
  }

  abortLeaderTransfer (why: string): void {
    this.logger.info('leadership transfer abandoned', { to: this.leadTransferee, why })
    this.leadTransferee = null
  }

  private refuse (reason: RefusalReason): Acceptance {
    return { ok: false, reason, leader: this.lead }
  }

  // ---- membership ----

  /**
   * Applies a committed membership change, when the application applies its entry. A change at or
   * below `confIndex` is already part of the membership (a snapshot installed meanwhile carried it)
   * and is ignored. A removed leader steps down; a leader whose quorum changed may now commit more.
   */
  applyConfChange (change: ConfChange, index: number): ConfState {
    if (index <= this.confIndex) return this.tracker.confState()
    this.confIndex = index
    this.tracker.applyChange(change, this.log.lastIndex())
    this.logger.info('applied conf change', { change: change.type, member: change.node, voters: [...this.tracker.voters].sort().join(','), learners: [...this.tracker.learners].sort().join(',') })
    if (this.role === 'leader') {
      if (!this.tracker.isVoter(this.id)) {
        this.logger.info('stepped down: removed from the configuration', { term: this.term })
        this.becomeFollower(this.term, null)
      } else {
        if (this.leadTransferee !== null && !this.tracker.progress.has(this.leadTransferee)) this.abortLeaderTransfer('transferee removed')
        if (this.maybeCommit()) bcastAppend(this)
        else for (const id of this.tracker.members()) if (id !== this.id) sendAppend(this, id)
      }
    }
    return this.tracker.confState()
  }

  /** Adopts the membership a snapshot carries, as of its index. */
  restoreMembership (conf: ConfState, index: number): void {
    this.tracker = new ProgressTracker(conf, this.config.maxInflightMsgs, this.config.maxInflightBytes)
    this.tracker.resetProgress(this.id, this.log.lastIndex())
    this.confIndex = index
  }

  /** The leader advances the commit index to what a quorum has, under the current-term rule. */
  maybeCommit (): boolean {
    const committed = this.log.maybeCommit(this.tracker.committedIndex(), this.term)
    if (committed) {
      // The first commit of the term releases reads that were waiting for it.
      const early = this.earlyReads
      this.earlyReads = []
      for (const read of early) serveRead(this, read.from, read.context)
    }
    return committed
  }

  /** True when committed-but-unapplied entries hold a conf change: a node must not campaign on a stale membership. */
  hasUnappliedConfChanges (): boolean {
    let lo = this.log.applied + 1
    const hi = this.log.committed + 1
    while (lo < hi) {
      const entries: Entry[] = this.log.slice(lo, hi, this.config.maxCommittedBytesPerReady) ?? []
      if (entries.length === 0) return false
      if (entries.some(entry => entry.type === 'confChange')) return true
      lo = (entries[entries.length - 1] as Entry).index + 1
    }
    return false
  }

  /**
   * The index a read the leader answers now must wait for: its commit index, or more — a follower
   * told how far the leader's disk holds the log may commit up to there before the leader hears
   * of it (`inferCommit`) and answer a write, which a later read must not miss.
   */
  readFloor (): number {
    return Math.max(this.log.committed, this.durableAnnounced)
  }

  /** Entries of this node's log became durable: a leader tells followers that wait on them, a follower may now know more committed. */
  entriesPersisted (): void {
    if (this.role === 'leader') announceDurable(this)
    else inferCommit(this)
  }

  /** Sends the appends that proposals since the last Ready are waiting for. */
  flushBroadcast (): void {
    if (!this.broadcastPending) return
    this.broadcastPending = false
    if (this.role === 'leader') bcastAppend(this)
  }

  /** Applied entries leave the uncommitted tail that bounds new proposals. */
  reduceUncommittedBytes (entries: readonly Entry[]): void {
    if (this.role !== 'leader') return
    const bytes = entries.reduce((total, entry) => total + entrySizeBytes(entry), 0)
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes)
  }
}
