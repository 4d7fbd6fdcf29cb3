import type { NodeId } from '../lib/ids.js'
import type { RaftStatus } from '../raft/raw-node.js'
import type { ForwardTarget } from './api/forward.js'
import { ApiFailure } from './api/router.js'
import type { MemberBody, NodeBody, StatusBody } from './api/wire.js'
import type { GossipService } from './gossip/gossip-service.js'
import { nodesPrefix, readRecord, type NodeRecord } from './node-record.js'
import type { KnownSeed } from './node-state.js'
import type { StoreReplica } from './store-replica.js'

// The cluster as a node reports it (`GET /v1/status`, `/members`, `/nodes`) and the seeds it
// knows, built from the replica's registry and configuration, the Raft status and gossip. Reads
// only: nothing here changes the cluster (`membership.ts` does).

/** What the views read of a replica: its registry, configuration, leader and applied index. */
export type ReplicaView = Pick<StoreReplica, 'state' | 'conf' | 'leader' | 'applied'>

/** What the views read of gossip: each node's liveness and latest report. */
export type GossipView = Pick<GossipService, 'get' | 'state'>

/** Who a node is, as `GET /v1/status` names it. */
export interface NodeSelf {
  readonly clusterId: string
  readonly id: NodeId
  readonly name: string
  readonly seed: boolean
}

/** The replica, or `ApiFailure` (internal) on a node that holds none: the router forwards such calls before. */
export function requireReplica (replica: StoreReplica | undefined): StoreReplica {
  if (replica === undefined) throw new ApiFailure('ERR_INTERNAL', 'this node holds no replica')
  return replica
}

/** A node's registry record; undefined without a replica, for an unregistered node, or where the key holds no record. */
export function findRecord (replica: Pick<StoreReplica, 'state'> | undefined, id: NodeId | string): NodeRecord | undefined {
  const kv = replica?.state.get(`${nodesPrefix}${id}`)
  return kv === undefined ? undefined : readRecord(kv.value)
}

/** The body of `GET /v1/status`: this node, the leader, Raft's progress, the members and the cluster's health. */
export function buildStatus (self: NodeSelf, replica: ReplicaView, raft: RaftStatus | undefined, gossip: GossipView | undefined): StatusBody {
  const leader = replica.leader
  const members = buildMembers(replica, raft, gossip)
  const voters = members.filter(member => member.suffrage === 'voter')
  const alive = voters.filter(member => member.health !== 'dead' && member.health !== 'suspect').length
  return {
    clusterId: self.clusterId,
    node: { id: self.id, name: self.name, seed: self.seed },
    leader: leader === null ? null : { id: leader, name: findRecord(replica, leader)?.name ?? '' },
    term: raft?.term ?? 0,
    commit: raft?.commit ?? 0,
    applied: replica.applied,
    revision: replica.state.revision,
    members,
    health: leader === null ? 'unavailable' : alive === voters.length ? 'healthy' : 'degraded'
  }
}

/** The Raft members, voters then learners, with their match index (known on the leader) and gossip health. */
export function buildMembers (replica: ReplicaView, raft: RaftStatus | undefined, gossip: GossipView | undefined): MemberBody[] {
  const { voters, learners } = replica.conf
  const member = (id: NodeId, suffrage: 'voter' | 'learner'): MemberBody => {
    const record = findRecord(replica, id)
    return {
      id,
      name: record?.name ?? '',
      suffrage,
      address: record?.addresses[0] ?? '',
      leader: replica.leader === id,
      match: raft?.progress[id]?.match ?? 0,
      health: gossip?.state(id) ?? 'unknown'
    }
  }
  return [...voters.map(id => member(id, 'voter')), ...learners.map(id => member(id, 'learner'))]
}

/** Every registered node: its record, its Raft role, and what gossip last heard of it (its agent in brief). */
export function buildNodes (replica: ReplicaView, gossip: GossipView | undefined): NodeBody[] {
  const records = replica.state.range(nodesPrefix, { limit: 100_000 }).items
  const { voters, learners } = replica.conf
  return records.flatMap(kv => {
    const record = readRecord(kv.value)
    return record === undefined ? [] : [record]
  }).map(record => {
    const id = record.id as NodeId
    const raftRole = replica.leader === id ? 'leader' : voters.includes(id) ? 'follower' : learners.includes(id) ? 'learner' : 'none'
    const seen = gossip?.get(id)
    const agent = seen?.report.agent
    return {
      id: record.id,
      name: record.name,
      addresses: record.addresses,
      roles: record.roles,
      pool: record.pool,
      labels: record.labels,
      raftRole,
      // A node never heard from since this node started is suspect until its first report arrives.
      state: seen?.state ?? 'suspect',
      lastSeenMs: seen?.lastSeenMs ?? -1,
      capacity: seen?.report.capacity ?? { cpuCores: 0, memoryBytes: 0, diskBytes: 0 },
      uptimeMs: seen?.report.uptimeMs ?? 0,
      agent: agent === undefined
        ? null
        : {
            isolation: agent.isolation,
            health: agent.health,
            problems: agent.problems,
            allocated: agent.allocated,
            reserved: agent.reserved,
            usage: agent.usage,
            containers: agent.containers.length
          }
    } satisfies NodeBody
  })
}

/**
 * The voters' records, for nodes that must reach the cluster again after a restart; a node
 * without a replica has only the seeds it `remembered`.
 */
export function listKnownSeeds (replica: Pick<StoreReplica, 'state' | 'conf'> | undefined, remembered: KnownSeed[]): KnownSeed[] {
  if (replica === undefined) return remembered
  return replica.conf.voters.map(id => ({ id, addresses: findRecord(replica, id)?.addresses ?? [] })).filter(seed => seed.addresses.length > 0)
}

/** Where forwarded calls go, best first: the leader, then the other known seeds. */
export function listForwardTargets (self: NodeId, replica: Pick<StoreReplica, 'state' | 'conf' | 'leader'> | undefined, remembered: KnownSeed[]): ForwardTarget[] {
  const targets: ForwardTarget[] = []
  const leader = replica?.leader
  if (leader !== undefined && leader !== null && leader !== self) targets.push({ id: leader, addresses: findRecord(replica, leader)?.addresses ?? [] })
  for (const seed of listKnownSeeds(replica, remembered)) if (seed.id !== self && seed.id !== leader) targets.push({ id: seed.id as NodeId, addresses: seed.addresses })
  return targets
}
