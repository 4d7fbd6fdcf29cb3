import type { NodeId } from '../lib/ids.js'
import type { ConfState } from '../raft/types.js'

/**
 * Where a member takes its snapshots: at applied indexes `phase + k × every`, the phase set by
 * its place in the sorted membership and spread over the first half of the interval. Encoding a
 * snapshot is seconds of CPU at 100,000 keys; members that all took theirs at the same index
 * slowed every write at once, while staggered, the others keep a quorum answering.
 */
export function snapshotPhase (id: NodeId, conf: ConfState, every: number): number {
  const members = [...conf.voters, ...conf.learners].sort()
  const position = members.indexOf(id)
  return position <= 0 ? 0 : Math.floor(position * every / (2 * members.length))
}

/** Whether one of the member's snapshot points lies after `snapshotIndex`, up to `applied`. */
export function snapshotDue (applied: number, snapshotIndex: number, every: number, phase: number): boolean {
  const point = (index: number): number => Math.floor((index - phase) / every)
  return point(applied) > point(snapshotIndex)
}
