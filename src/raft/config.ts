import { assert } from '../lib/assert.js'
import type { NodeId } from '../lib/ids.js'
import type { Logger } from '../lib/logger.js'
import type { Rng } from '../lib/rng.js'

/** What a Raft core is told at creation. Every limit has a default; time is counted in ticks. */
export interface RaftConfig {
  readonly id: NodeId
  /**
   * Nodes without a leader wait a random [electionTicks, 2·electionTicks) before campaigning; a
   * voter whose leader falls silent waits electionTicks + 1 + 2·(its rank by id among the voters
   * other than that leader), so that only the first survivor campaigns.
   */
  readonly electionTicks?: number
  /** A leader sends heartbeats every heartbeatTicks; must be well below electionTicks. */
  readonly heartbeatTicks?: number
  /** Ask for pre-votes first, so that a node that cannot win never bumps the term (thesis §9.6). */
  readonly preVote?: boolean
  /** A leader that has not heard from a quorum for an election timeout steps down; followers in touch with a leader ignore votes. */
  readonly checkQuorum?: boolean
  /** The most entry bytes in one append message (at least one entry is always sent). */
  readonly maxSizePerMsgBytes?: number
  /** The most appends in flight to one follower in replicate state. */
  readonly maxInflightMsgs?: number
  /** The most bytes of appends in flight to one follower. */
  readonly maxInflightBytes?: number
  /** A leader refuses proposals while this many bytes of its log are uncommitted. */
  readonly maxUncommittedEntriesBytes?: number
  /** The most bytes of committed entries handed out in one Ready. */
  readonly maxCommittedBytesPerReady?: number
  /** The size of one InstallSnapshot chunk. */
  readonly snapshotChunkBytes?: number
  /** The most reads a leader keeps waiting for confirmation; more are refused. */
  readonly maxPendingReads?: number
  /** The index the application's state machine has applied (on restart); entries after it are applied again. */
  readonly applied?: number
  readonly rng: Rng
  readonly logger: Logger
}

/** A `RaftConfig` with every default filled in. */
export type ResolvedRaftConfig = Required<RaftConfig>

/** Fills in defaults and checks that the values make sense together. */
export function resolveRaftConfig (config: RaftConfig): ResolvedRaftConfig {
  const resolved: ResolvedRaftConfig = {
    electionTicks: 10,
    heartbeatTicks: 1,
    preVote: true,
    checkQuorum: true,
    maxSizePerMsgBytes: 1024 * 1024,
    maxInflightMsgs: 256,
    maxInflightBytes: 32 * 1024 * 1024,
    maxUncommittedEntriesBytes: 64 * 1024 * 1024,
    maxCommittedBytesPerReady: 16 * 1024 * 1024,
    snapshotChunkBytes: 1024 * 1024,
    maxPendingReads: 10_000,
    applied: 0,
    ...config
  }
  assert(resolved.heartbeatTicks > 0 && resolved.electionTicks > resolved.heartbeatTicks, 'election ticks must exceed heartbeat ticks',
    { electionTicks: resolved.electionTicks, heartbeatTicks: resolved.heartbeatTicks })
  assert(resolved.maxInflightMsgs > 0 && resolved.snapshotChunkBytes > 0 && resolved.maxSizePerMsgBytes > 0, 'limits must be positive')
  return resolved
}
