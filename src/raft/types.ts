import type { NodeId } from '../lib/ids.js'

/**
 * A change of membership, one server at a time (Raft thesis §4.1, applied when the entry is
 * applied, as etcd-raft does). A new server joins as a learner, is promoted to voter once caught
 * up, and may be removed in any role.
 */
export type ConfChange =
  | { readonly type: 'addLearner', readonly node: NodeId }
  | { readonly type: 'addVoter', readonly node: NodeId }
  | { readonly type: 'removeNode', readonly node: NodeId }

/** Who votes and who only listens. A node is in at most one of the two lists. */
export interface ConfState {
  readonly voters: readonly NodeId[]
  readonly learners: readonly NodeId[]
}

/** One log entry: an application command, or a membership change the core itself interprets. */
export type Entry =
  | { readonly term: number, readonly index: number, readonly type: 'normal', readonly data: Uint8Array }
  | { readonly term: number, readonly index: number, readonly type: 'confChange', readonly change: ConfChange }

/** A log entry not yet placed in the log: what a proposal carries. */
export type EntryPayload =
  | { readonly type: 'normal', readonly data: Uint8Array }
  | { readonly type: 'confChange', readonly change: ConfChange }

/** What must be on disk before any message that depends on it is sent (Raft paper, Figure 2). */
export interface HardState {
  readonly term: number
  /** Whom this node voted for in `term`, or `null`. */
  readonly vote: NodeId | null
  readonly commit: number
}

/** The roles of Raft, plus the pre-candidate of pre-vote (thesis §9.6). */
export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader'

/** Volatile state worth reporting when it changes. */
export interface SoftState {
  readonly leader: NodeId | null
  readonly role: Role
}

/** Where a snapshot stands in the log, and the membership at that point (thesis §5.1). */
export interface SnapshotMetadata {
  readonly index: number
  readonly term: number
  readonly conf: ConfState
}

/** The application's state machine at `metadata.index`, with everything the log before it held. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata
  readonly data: Uint8Array
}

/** The answer to a `readIndex` request: once applied ≥ `index`, a read reflects every write completed before the request. */
export interface ReadState {
  readonly index: number
  readonly context: string
}

/** Fields every message carries. Forwarded proposals and reads are not tied to a term and carry 0. */
interface MessageBase {
  readonly from: NodeId
  readonly to: NodeId
  readonly term: number
}

/**
 * Every message Raft nodes exchange. `index`/`logTerm` on an append are those of the entry just
 * before `entries` (the paper's prevLogIndex/prevLogTerm); on votes, those of the candidate's last
 * entry.
 */
export type Message =
  /**
   * `quiet`: a commit notice (no entries) to a follower the leader knows holds every entry up to
   * `index`; accepted, it needs no answer, which would tell the leader nothing new.
   * `durable`: the leader's own log is on its disk up to this index, sent only to a follower with
   * forwarded proposals outstanding that forms a quorum with the leader (see `durableFor`).
   */
  | MessageBase & { readonly type: 'append', readonly index: number, readonly logTerm: number, readonly entries: readonly Entry[], readonly commit: number, readonly quiet?: boolean, readonly durable?: number }
  | MessageBase & { readonly type: 'appendResponse', readonly index: number, readonly reject: boolean, readonly rejectHint: number, readonly logTerm: number }
  | MessageBase & { readonly type: 'heartbeat', readonly commit: number, readonly context: number }
  | MessageBase & { readonly type: 'heartbeatResponse', readonly context: number }
  | MessageBase & { readonly type: 'vote' | 'preVote', readonly index: number, readonly logTerm: number, readonly transfer: boolean }
  | MessageBase & { readonly type: 'voteResponse' | 'preVoteResponse', readonly reject: boolean }
  | MessageBase & { readonly type: 'snapshot', readonly metadata: SnapshotMetadata, readonly offset: number, readonly chunk: Uint8Array, readonly totalBytes: number }
  | MessageBase & { readonly type: 'snapshotResponse', readonly index: number, readonly offset: number, readonly reject: boolean }
  | MessageBase & { readonly type: 'propose', readonly entries: readonly EntryPayload[] }
  | MessageBase & { readonly type: 'readIndex', readonly context: string }
  | MessageBase & { readonly type: 'readIndexResponse', readonly index: number, readonly context: string }
  | MessageBase & { readonly type: 'timeoutNow' }

export type MessageType = Message['type']

/** Rough size of an entry in bytes, for the limits on messages and on the uncommitted tail. */
export function entrySizeBytes (entry: Entry | EntryPayload): number {
  return entryOverheadBytes + (entry.type === 'normal' ? entry.data.byteLength : entry.change.node.length)
}

/** Bytes counted per entry beyond its data: term, index and framing. */
const entryOverheadBytes = 24
