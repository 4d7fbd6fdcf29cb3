import { assert } from '../lib/assert.js'
import type { NodeId } from '../lib/ids.js'
import { Progress } from './progress.js'
import type { ConfChange, ConfState } from './types.js'

/** The outcome of counting votes (or acknowledgements) among the voters. */
export type VoteResult = 'won' | 'lost' | 'pending'

/**
 * The membership and the leader's per-member progress. Quorums are majorities of voters; learners
 * receive the log but neither vote nor count toward commit.
 */
export class ProgressTracker {
  readonly voters: Set<NodeId>
  readonly learners: Set<NodeId>
  readonly progress = new Map<NodeId, Progress>()
  private readonly votes = new Map<NodeId, boolean>()
  /** `confState()` and `members()` as of the last change (asked for on every append and commit). */
  private conf: { readonly state: ConfState, readonly members: readonly NodeId[] } | undefined

  constructor (conf: ConfState, private readonly maxInflight: number, private readonly maxInflightBytes: number) {
    this.voters = new Set(conf.voters)
    this.learners = new Set(conf.learners)
    assert(![...this.learners].some(id => this.voters.has(id)), 'a node is both voter and learner', { conf })
  }

  confState (): ConfState {
    return this.sortedConf().state
  }

  isVoter (id: NodeId): boolean {
    return this.voters.has(id)
  }

  /** Every member, voters first, each list sorted so that iteration order is deterministic. */
  members (): readonly NodeId[] {
    return this.sortedConf().members
  }

  private sortedConf (): { readonly state: ConfState, readonly members: readonly NodeId[] } {
    if (this.conf === undefined) {
      const state = { voters: [...this.voters].sort(), learners: [...this.learners].sort() }
      this.conf = { state, members: [...state.voters, ...state.learners] }
    }
    return this.conf
  }

  /** Gives every member a fresh progress as a new leader sees it: nothing known to match, next after our last entry. */
  resetProgress (selfId: NodeId, lastIndex: number): void {
    this.progress.clear()
    for (const id of this.members()) {
      const progress = this.newProgress(id, lastIndex + 1)
      if (id === selfId) {
        progress.match = lastIndex
        progress.recentActive = true
      }
      this.progress.set(id, progress)
    }
  }

  private newProgress (id: NodeId, next: number): Progress {
    return new Progress(next, this.maxInflight, this.maxInflightBytes, this.learners.has(id))
  }

  /**
   * The highest index a majority of voters has: the `floor(n/2)+1`-th largest match. A leader may
   * commit up to it (subject to the current-term rule).
   */
  committedIndex (): number {
    // Sorted by insertion, largest first: asked after every acknowledgement, and `Array#sort`
    // allocated more than the rest of it.
    const matches: number[] = []
    for (const id of this.voters) {
      const match = this.progress.get(id)?.match ?? 0
      let i = matches.length
      matches.push(match)
      for (; i > 0 && (matches[i - 1] as number) < match; i--) matches[i] = matches[i - 1] as number
      matches[i] = match
    }
    if (matches.length === 0) return 0
    return matches[Math.floor(matches.length / 2)] as number
  }

  resetVotes (): void {
    this.votes.clear()
  }

  /** Records a vote (the first one from each voter counts) and says where the election stands. */
  recordVote (id: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted)
    return this.voteResult(id => this.votes.get(id))
  }

  /** Whether two distinct voters `a` and `b` are, on their own, a majority of the voters. */
  isPairQuorum (a: NodeId, b: NodeId): boolean {
    return a !== b && this.voters.has(a) && this.voters.has(b) && 2 >= this.quorum()
  }

  /** How many voters are a majority. */
  private quorum (): number {
    return Math.floor(this.voters.size / 2) + 1
  }

  /** Counts answers among voters: won with a majority of yes, lost once a majority can no longer be reached. */
  voteResult (answer: (id: NodeId) => boolean | undefined): VoteResult {
    const quorum = this.quorum()
    let granted = 0
    let missing = 0
    for (const id of this.voters) {
      const vote = answer(id)
      if (vote === true) granted++
      else if (vote === undefined) missing++
    }
    if (granted >= quorum) return 'won'
    if (granted + missing >= quorum) return 'pending'
    return 'lost'
  }

  /** Check-quorum: a majority of voters was heard from since the last round. Clears the marks for the next round. */
  checkQuorumActive (selfId: NodeId): boolean {
    const result = this.voteResult(id => id === selfId || this.progress.get(id)?.recentActive === true ? true : undefined)
    for (const [id, progress] of this.progress) progress.recentActive = id === selfId
    return result === 'won'
  }

  /**
   * Applies one membership change. A new member gets a progress starting after `lastIndex`
   * (counted as recently active, so it does not trip check-quorum before it is reached).
   * Changes that do not fit the current membership are ignored.
   */
  applyChange (change: ConfChange, lastIndex: number): void {
    const { node } = change
    this.conf = undefined
    switch (change.type) {
      case 'addLearner':
        if (this.voters.has(node) || this.learners.has(node)) return
        this.learners.add(node)
        break
      case 'addVoter':
        this.learners.delete(node)
        this.voters.add(node)
        break
      case 'removeNode':
        this.voters.delete(node)
        this.learners.delete(node)
        this.progress.delete(node)
        return
    }
    const existing = this.progress.get(node)
    if (existing !== undefined) {
      existing.isLearner = this.learners.has(node)
      return
    }
    const progress = this.newProgress(node, lastIndex + 1)
    progress.recentActive = true
    this.progress.set(node, progress)
  }
}
