import { peerIdFromString } from '@libp2p/peer-id'
import { GalaxyError } from '../lib/errors.js'
import type { HostPort } from '../lib/host-port.js'
import type { NodeId } from '../lib/ids.js'
import type { Logger } from '../lib/logger.js'
import type { RaftStatus } from '../raft/raw-node.js'
import { internalCall, type ApiCall, type ApiReply } from './api/call.js'
import { forwardCall } from './api/forward.js'
import { ApiFailure } from './api/router.js'
import { findRecord, requireReplica } from './cluster-views.js'
import { tcpMultiaddr, type Host } from './net/host.js'
import { nodesPrefix, parseNodeRecord, type NodeRecord } from './node-record.js'
import type { KnownSeed } from './node-state.js'
import type { RaftDriver } from './raft-driver.js'
import type { StoreReplica } from './store-replica.js'

/** Named timings of joining, registering and promoting. */
export const membershipTimings = {
  /** How long a joining node keeps trying its seeds before it gives up with an error. */
  joinTimeoutMs: 20_000,
  promoteEveryMs: 500,
  /** A learner this close to the leader's last index is promoted to voter. */
  promoteLagEntries: 16
} as const

/** What the leader tells a node that joins: the cluster, its admin token, and the seeds to remember. */
export interface JoinAnswer {
  readonly clusterId: string
  readonly token: string
  readonly seeds: KnownSeed[]
}

/** The parts of the node that membership works with. */
export interface MembershipComponents {
  readonly id: NodeId
  readonly host: Host
  /** Undefined on a node that is not a seed: it neither changes the configuration nor promotes. */
  readonly replica: StoreReplica | undefined
  readonly driver: RaftDriver | undefined
  /** Serves a call as the node's API does: registry records are written through it (and so forwarded). */
  readonly handle: (call: ApiCall) => Promise<ApiReply>
  /** The API's address, known once the API listens. */
  readonly apiAddress: () => HostPort
  /** What a joining node is told (`JoinAnswer`), as this node knows it now. */
  readonly joinAnswer: () => JoinAnswer
  readonly logger: Logger
}

/** What membership is told about this node and its timings. */
export interface MembershipInit {
  readonly name: string
  readonly roles: readonly string[]
  readonly pool: string
  readonly labels: Readonly<Record<string, string>>
  readonly seed: boolean
  readonly requestTimeoutMs: number
  readonly tickMs: number
  readonly electionTicks: number
}

/**
 * Who belongs to the cluster. On the leader: registers joining nodes, adds seeds as learners and
 * promotes them once caught up, removes members and hands leadership over — one configuration
 * change at a time. On the joining side: asks the seeds to be let in, then keeps this node's
 * registry record current. `start` runs the registration and promotion loops, `stop` ends them.
 */
export class Membership {
  private timers: NodeJS.Timeout[] = []
  private stopped = false

  constructor (private readonly components: MembershipComponents, private readonly init: MembershipInit) {}

  /** This node's registry record as it stands now. */
  ownRecord (): NodeRecord {
    const apiAddress = this.components.apiAddress()
    return {
      id: this.components.id,
      name: this.init.name,
      addresses: ownAddresses(this.components.host),
      api: `${apiAddress.host}:${apiAddress.port}`,
      roles: this.init.roles,
      pool: this.init.pool,
      labels: this.init.labels,
      seed: this.init.seed
    }
  }

  /** On the leader: registers a node and, for a seed, adds it as a learner (promoted once caught up). */
  async join (body: unknown): Promise<JoinAnswer> {
    const replica = requireReplica(this.components.replica)
    const record = parseNodeRecord(body)
    await this.putRecord(record)
    const id = record.id as NodeId
    if (record.seed && !replica.conf.voters.includes(id) && !replica.conf.learners.includes(id)) {
      const deadline = performance.now() + this.init.requestTimeoutMs
      while (!replica.conf.learners.includes(id) && !replica.conf.voters.includes(id)) {
        if (performance.now() > deadline) throw new ApiFailure('ERR_TIMEOUT', `adding ${record.name} as a learner did not commit in time`)
        const acceptance = this.components.driver?.proposeConfChange({ type: 'addLearner', node: id })
        if (acceptance !== undefined && !acceptance.ok && acceptance.reason !== 'confChangePending') throw new ApiFailure('ERR_NO_LEADER', `cannot add ${record.name}: ${acceptance.reason}`)
        await replica.nextApply(200)
      }
    }
    return this.components.joinAnswer()
  }

  /** On the leader: removes a voter or learner, waiting until the change is applied here. */
  async removePeer (id: NodeId): Promise<void> {
    const replica = requireReplica(this.components.replica)
    if (!replica.conf.voters.includes(id) && !replica.conf.learners.includes(id)) throw new ApiFailure('ERR_NOT_FOUND', `${id} is not a member`)
    const deadline = performance.now() + this.init.requestTimeoutMs
    while (replica.conf.voters.includes(id) || replica.conf.learners.includes(id)) {
      if (performance.now() > deadline) throw new ApiFailure('ERR_TIMEOUT', `removing ${id} did not commit in time`)
      const acceptance = this.components.driver?.proposeConfChange({ type: 'removeNode', node: id })
      if (acceptance !== undefined && !acceptance.ok && acceptance.reason !== 'confChangePending') throw new ApiFailure('ERR_BAD_REQUEST', `cannot remove ${id}: ${acceptance.reason}`)
      await replica.nextApply(200)
    }
  }

  /**
   * On the leader: hands leadership to `id`, or to the most caught-up other voter this node is
   * connected to, and waits (up to three election timeouts) until it has taken over.
   */
  async transferLeader (id: NodeId | undefined): Promise<NodeId> {
    const self = this.components.id
    const replica = requireReplica(this.components.replica)
    const status = this.components.driver?.status()
    const others = replica.conf.voters.filter(voter => voter !== self)
    if (id === undefined && others.length === 0) throw new ApiFailure('ERR_BAD_REQUEST', 'there is no other voter to hand leadership to')
    const target = id ?? handoverCandidates(replica.conf.voters, self, this.connectedTo, voter => status?.progress[voter]?.match ?? 0)[0]
    if (target === undefined) throw new ApiFailure('ERR_UNREACHABLE', 'no other voter is connected to hand leadership to')
    if (target === self) return self
    if (!replica.conf.voters.includes(target)) throw new ApiFailure('ERR_BAD_REQUEST', `${target} is not a voter`)
    const acceptance = this.components.driver?.transferLeadership(target)
    if (acceptance !== undefined && !acceptance.ok) throw new ApiFailure('ERR_BAD_REQUEST', `cannot transfer leadership: ${acceptance.reason}`)
    const term = this.components.driver?.status().term
    const deadline = performance.now() + 3 * this.init.tickMs * this.init.electionTicks
    while (replica.leader !== target) {
      if (performance.now() > deadline) throw new ApiFailure('ERR_TIMEOUT', `${target} did not take over in time`)
      const given = transferGivenUp(this.components.driver?.status(), term)
      if (given !== undefined) throw new ApiFailure('ERR_TIMEOUT', `${target} did not take over: ${given}`)
      await replica.nextApply(100)
    }
    return target
  }

  /** On a new node: asks the seeds in turn to let it in, until one answers or `joinTimeoutMs` passes. */
  async joinCluster (seeds: readonly HostPort[]): Promise<JoinAnswer> {
    const record = this.ownRecord()
    const deadline = performance.now() + membershipTimings.joinTimeoutMs
    let lastError: unknown
    while (performance.now() < deadline) {
      for (const seed of seeds) {
        try {
          const reply = await forwardCall(this.components.host, { addresses: [tcpMultiaddr(seed).toString()] }, internalCall('POST', '/v1/internal/join', record), this.init.requestTimeoutMs)
          if (!('body' in reply)) throw new Error('unexpected stream')
          const body = JSON.parse(new TextDecoder().decode(reply.body)) as { clusterId: string, token: string, seeds: KnownSeed[], error?: { message: string } }
          if (reply.status !== 200) throw new Error(body.error?.message ?? `status ${reply.status}`)
          return body
        } catch (error) {
          lastError = error
          this.components.logger.debug('join attempt failed', { seed: `${seed.host}:${seed.port}`, error: (error as Error).message })
        }
      }
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    const list = seeds.map(seed => `${seed.host}:${seed.port}`).join(', ')
    throw new GalaxyError('ERR_UNREACHABLE', `cannot join the cluster through ${list}: ${(lastError as Error | undefined)?.message ?? 'no answer'} (is the seed up, and is this the cluster's key?)`)
  }

  /** Starts registering this node and, on a seed, promoting caught-up learners. */
  start (): void {
    // Keep this node's registry record current (addresses, roles, API), retrying until the store answers.
    let registered = false
    const register = async (): Promise<void> => {
      if (registered || this.stopped) return
      try {
        const own = this.ownRecord()
        const replica = this.components.replica
        const stored = replica?.isVoter === true ? findRecord(replica, this.components.id) : undefined
        if (stored === undefined || JSON.stringify(stored) !== JSON.stringify(own)) await this.putRecord(own)
        registered = true
      } catch (error) {
        this.components.logger.debug('registration pending', { error: (error as Error).message })
      }
    }
    this.timers.push(setInterval(() => { register().catch(() => {}) }, 1000))
    register().catch(() => {})
    if (this.components.replica !== undefined) this.timers.push(setInterval(() => { this.promoteLearners() }, membershipTimings.promoteEveryMs))
  }

  /** Whether this node has an open connection to `id`. */
  readonly connectedTo = (id: NodeId): boolean => this.components.host.getConnections(peerIdFromString(id)).length > 0

  /**
   * Whether the voters this node is connected to, itself included, are a quorum (see
   * `quorumConnected`). A node that is not a seed does not follow the configuration: it assumes so.
   */
  quorumConnected (): boolean {
    const replica = this.components.replica
    return replica === undefined || quorumConnected(replica.conf.voters, this.components.id, this.connectedTo)
  }

  /** Ends the loops `start` began. */
  stop (): void {
    this.stopped = true
    for (const timer of this.timers) clearInterval(timer)
  }

  private async putRecord (record: NodeRecord): Promise<void> {
    const value = Buffer.from(JSON.stringify(record)).toString('base64')
    const reply = await this.components.handle(internalCall('PUT', `/v1/kv/${encodeURIComponent(`${nodesPrefix}${record.id}`)}`, { value }))
    if (reply.status !== 200) throw new ApiFailure('ERR_NO_LEADER', `cannot register ${record.name}: ${'body' in reply ? new TextDecoder().decode(reply.body).trim() : ''}`)
  }

  /** On the leader: a learner that caught up becomes a voter (one change at a time). */
  private promoteLearners (): void {
    const { replica, driver } = this.components
    if (replica === undefined || !replica.isLeader || replica.conf.learners.length === 0 || driver === undefined) return
    const status = driver.status()
    for (const learner of replica.conf.learners) {
      const progress = status.progress[learner]
      // Ready as etcd counts it: replicating, and holding everything committed so far.
      if (progress !== undefined && progress.state === 'replicate' && progress.match > 0 && progress.match >= status.commit &&
        status.lastIndex - progress.match <= membershipTimings.promoteLagEntries) {
        const acceptance = driver.proposeConfChange({ type: 'addVoter', node: learner })
        if (acceptance.ok) this.components.logger.info('promoting learner', { node: learner })
        return
      }
    }
  }
}

/** This host's dialable addresses without the /p2p suffix. */
function ownAddresses (host: Host): string[] {
  return host.getMultiaddrs().map(address => address.toString().replace(/\/p2p\/[^/]+$/, ''))
}

/**
 * The voters that could take leadership over from `self`, best first: the others it has an open
 * connection to, the most caught up (`match`) first. One without a connection — its process gone,
 * or cut off — could not take over, and a transfer to it only waits out an election timeout.
 */
export function handoverCandidates (voters: readonly NodeId[], self: NodeId, connected: (id: NodeId) => boolean, match: (id: NodeId) => number): NodeId[] {
  return voters.filter(voter => voter !== self && connected(voter)).sort((a, b) => match(b) - match(a))
}

/**
 * Whether the voters `self` is connected to, itself included when it votes, make a quorum: if not,
 * nothing it proposes now can commit until others come back. A connection can outlive a peer that
 * vanished without closing it, so `true` only means a write may commit.
 */
export function quorumConnected (voters: readonly NodeId[], self: NodeId, connected: (id: NodeId) => boolean): boolean {
  const reached = voters.filter(voter => voter === self || connected(voter)).length
  return reached > voters.length / 2
}

/**
 * Why a leadership transfer begun in `term` can no longer succeed, if it cannot: in that term
 * this node still leads with no transfer under way (Raft gives one up after an election timeout
 * without the target taking over), or it stopped leading without a newer term (it lost its
 * quorum). A transfer that works moves the term on, when the target campaigns.
 */
export function transferGivenUp (status: Pick<RaftStatus, 'term' | 'role' | 'leadTransferee'> | undefined, term: number | undefined): string | undefined {
  if (status === undefined || status.term !== term) return undefined
  if (status.role === 'leader') return status.leadTransferee === null ? 'Raft gave the transfer up after an election timeout' : undefined
  return 'this node lost its quorum first'
}
