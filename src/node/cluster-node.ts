import { randomUUID } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import { mkdir, readFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import { join as joinPath } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { deferred } from '../lib/deferred.js'
import { GalaxyError } from '../lib/errors.js'
import type { HostPort } from '../lib/host-port.js'
import type { NodeId } from '../lib/ids.js'
import type { Logger } from '../lib/logger.js'
import { SystemRng } from '../runtime/system-rng.js'
import type { ApiCall, ApiReply } from './api/call.js'
import { ForwardDialError, forwardCall, forwardLimits, serveForwarded, type ForwardCounters } from './api/forward.js'
import { IdleStreams } from './api/idle-streams.js'
import { ApiFailure, ApiRouter, type RouterNode } from './api/router.js'
import { startApiServer } from './api/server.js'
import type { MemberBody, NodeBody, StatusBody } from './api/wire.js'
import { buildMembers, buildNodes, buildStatus, findRecord, listForwardTargets, listKnownSeeds, requireReplica } from './cluster-views.js'
import type { Resources } from '../roles/agent/allocation.js'
import { defaultReserve, NodeAgent } from './agent/node-agent.js'
import { JobRoles } from './jobs/job-roles.js'
import { resManTimings } from './jobs/node-resman.js'
import { measureCapacity } from './gossip/capacity.js'
import { GossipService } from './gossip/gossip-service.js'
import { Membership, membershipTimings } from './membership.js'
import { createHost, type Host } from './net/host.js'
import { generateClusterKey, generateToken, KeyFileError, loadOrCreatePeerKey, parseClusterKey, readClusterKeyFile, readTokenFile, writeSecretFile } from './net/identity.js'
import { readNodeState, writeNodeState, type KnownSeed, type NodeState } from './node-state.js'
import { RaftDriver } from './raft-driver.js'
import { LevelRaftStorage } from './raft-storage.js'
import { RaftTransport, type RaftTransportCounters } from './raft-transport.js'
import { StoreReplica } from './store-replica.js'

/** Everything `galaxy up` decides before a node starts. */
export interface ClusterNodeOptions {
  readonly dataDir: string
  readonly listen: HostPort
  readonly api: HostPort
  readonly name: string
  /** Run Raft: bootstrap a cluster (no `join`) or join as a learner that is promoted to voter. */
  readonly seed: boolean
  readonly join: readonly HostPort[]
  readonly roles: readonly string[]
  readonly pool: string
  readonly labels: Readonly<Record<string, string>>
  /** `--key-file`: where the cluster key is; else `GALAXY_CLUSTER_KEY`; else `<data>/cluster.key`. */
  readonly clusterKeyFile?: string | undefined
  /** `GALAXY_CLUSTER_KEY`: the key's text itself. */
  readonly clusterKeyEnv?: string | undefined
  readonly tickMs?: number
  readonly electionTicks?: number
  readonly heartbeatTicks?: number
  readonly requestTimeoutMs?: number
  /** Gossip silences after which a node is suspect, then dead. */
  readonly suspectAfterMs?: number
  readonly deadAfterMs?: number
  /** Silence after which the ResMan gives a node up and places its pods elsewhere. */
  readonly rescheduleAfterMs?: number
  /** What the agent keeps back for the host's own processes (`defaultReserve` where not given). */
  readonly reserve?: Partial<Resources> | undefined
  /** Overrides `replicaLimits.snapshotEveryEntries` (tests). */
  readonly snapshotEveryEntries?: number
  readonly logger: Logger
}



/**
 * Named timings of a node: heartbeats every 100 ms and a 1 s election timeout (etcd's defaults),
 * on a 50 ms tick. Raft counts silence in ticks, so a survivor that campaigns one tick after a
 * silent leader's lease lapsed, or one tick after its process was found gone, waits half as long
 * past those moments as on a 100 ms tick; the tick itself costs a timer and a Ready check.
 */
export const nodeTimings = {
  tickMs: 50,
  electionTicks: 20,
  heartbeatTicks: 2,
  requestTimeoutMs: 5_000,
  ...membershipTimings
} as const

/** How the first seed tells the operator to add more nodes. */
export interface JoinHint {
  readonly clusterId: string
  readonly keyFile: string
  readonly tokenFile: string
  readonly token: string
}

/**
 * One galaxy node: its libp2p host, and — on seeds — the Raft driver, level storage and store
 * replica; the HTTP API and the forwarding service on every node. `start` bootstraps, joins or
 * rejoins according to the data dir; `stop` hands leadership over first. It wires the parts and
 * passes calls on: membership changes are `Membership`'s, the status, members and nodes views
 * are built by `cluster-views.ts`.
 */
export class ClusterNode implements RouterNode {
  readonly id: NodeId
  readonly requestTimeoutMs: number
  readonly forwardCounters: ForwardCounters = { streams: 0, served: 0, malformed: 0 }
  /** Streams to other nodes that completed a forwarded call, kept for the next one. */
  private readonly idleStreams = new IdleStreams()
  private apiServer: Server | undefined
  private apiAddress: HostPort
  private timers: NodeJS.Timeout[] = []
  private stopping = false
  private readonly router: ApiRouter
  private readonly membership: Membership
  private seeds: KnownSeed[]
  private gossip: GossipService | undefined
  private agentRole: NodeAgent | undefined
  private jobRoles: JobRoles | undefined

  private constructor (
    private readonly options: ClusterNodeOptions,
    readonly host: Host,
    private state: NodeState,
    readonly token: string,
    readonly replica: StoreReplica | undefined,
    private readonly driver: RaftDriver | undefined,
    private readonly transport: RaftTransport | undefined,
    private readonly storage: LevelRaftStorage | undefined,
    readonly joinHint: JoinHint | undefined,
    /** Resolves if replication stopped on an error: the node must exit (non-zero) and be restarted. */
    readonly failed: Promise<Error>
  ) {
    this.id = host.peerId.toString() as NodeId
    this.requestTimeoutMs = options.requestTimeoutMs ?? nodeTimings.requestTimeoutMs
    this.router = new ApiRouter(this)
    this.apiAddress = options.api
    this.seeds = [...state.seeds]
    this.membership = new Membership({
      id: this.id,
      host,
      replica,
      driver,
      handle: async call => await this.router.handle(call),
      apiAddress: () => this.apiAddress,
      joinAnswer: () => ({ clusterId: this.state.clusterId, token: this.token, seeds: listKnownSeeds(this.replica, this.seeds) }),
      logger: options.logger
    }, {
      name: options.name,
      roles: options.roles,
      pool: options.pool,
      labels: options.labels,
      seed: state.seed,
      requestTimeoutMs: this.requestTimeoutMs,
      tickMs: options.tickMs ?? nodeTimings.tickMs,
      electionTicks: options.electionTicks ?? nodeTimings.electionTicks
    })
  }

  /** Starts a node from its data dir: bootstraps a new cluster, joins one, or rejoins. */
  static async start (options: ClusterNodeOptions): Promise<ClusterNode> {
    const { dataDir, logger } = options
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    const statePath = joinPath(dataDir, 'node.json')
    const keyPath = joinPath(dataDir, 'cluster.key')
    const tokenPath = joinPath(dataDir, 'admin.token')
    let state = await readNodeState(statePath)
    const seed = state?.seed ?? options.seed
    const joining = state === undefined && options.join.length > 0
    if (state === undefined && !joining && !options.seed) throw new GalaxyError('ERR_USAGE', 'a node that is not a seed needs --join HOST:PORT of a seed')

    const given = await givenClusterKey(options)
    let clusterKey = given?.key ?? await readClusterKeyFile(keyPath)
    let joinHint: JoinHint | undefined
    if (clusterKey === undefined) {
      if (state !== undefined || joining) throw new KeyFileError('the cluster key is missing: pass --key-file FILE or set GALAXY_CLUSTER_KEY (copy <data>/cluster.key from the first seed)')
      const text = generateClusterKey()
      await writeSecretFile(keyPath, text)
      clusterKey = parseClusterKey(text, keyPath)
    } else if (given !== undefined && await readClusterKeyFile(keyPath) === undefined) {
      // Keep the key in the data dir, so a restart needs no flag.
      await writeSecretFile(keyPath, given.text)
    }

    const peerKey = await loadOrCreatePeerKey(joinPath(dataDir, 'peer.key'))
    const host = await createHost({ peerKey, clusterKey, listen: options.listen })
    const id = host.peerId.toString() as NodeId
    const log = logger.child({ node: options.name })
    let storage: LevelRaftStorage | undefined
    let node: ClusterNode | undefined
    try {
      let token = await readTokenFile(tokenPath)
      if (seed) {
        storage = await LevelRaftStorage.open(joinPath(dataDir, 'raft'), { logger: log.child({ component: 'raft-storage' }) })
        if (state === undefined && !joining) {
          if (storage.lastIndex() > 0 || storage.snapshotMetadata().index > 0) {
            throw new GalaxyError('ERR_DATA_DIR', `${dataDir} holds a Raft log but no node.json: refusing to bootstrap over it (restore node.json, or start from an empty data dir)`)
          }
          // The first seed: a one-voter configuration committed at term 1, as etcd bootstraps.
          await storage.save({ entries: [{ term: 1, index: 1, type: 'confChange', change: { type: 'addVoter', node: id } }], hardState: { term: 1, vote: null, commit: 1 } })
          state = { clusterId: randomUUID(), seed: true, seeds: [] }
          token = generateToken()
          await writeSecretFile(tokenPath, `${token}\n`)
          await writeNodeState(statePath, state)
          joinHint = { clusterId: state.clusterId, keyFile: keyPath, tokenFile: tokenPath, token }
        }
      }
      const tickMs = options.tickMs ?? nodeTimings.tickMs
      const electionTicks = options.electionTicks ?? nodeTimings.electionTicks
      let replica: StoreReplica | undefined
      let driver: RaftDriver | undefined
      let transport: RaftTransport | undefined
      const failure = deferred<Error>()
      if (storage !== undefined) {
        const nowMs = (): number => performance.now()
        replica = new StoreReplica({ id, storage, electionTimeoutMs: tickMs * electionTicks, logger: log.child({ component: 'store' }), nowMs, snapshotEveryEntries: options.snapshotEveryEntries }, await storage.readSnapshot())
        const replicaRef = replica
        transport = new RaftTransport(host, {
          addressesOf: peer => findRecord(replicaRef, peer)?.addresses ?? [],
          onMessage: message => { driver?.step(message) },
          watches: peer => driver?.follows(peer) ?? false,
          onGone: peer => { driver?.peerGone(peer) },
          logger: log.child({ component: 'raft-transport' })
        })
        const transportRef = transport
        driver = new RaftDriver({ id, storage, applied: replica.applied, tickMs, electionTicks, heartbeatTicks: options.heartbeatTicks ?? nodeTimings.heartbeatTicks, send: messages => { transportRef.send(messages) }, application: replica, rng: new SystemRng(), logger: log.child({ component: 'raft' }), onFailure: error => { replicaRef.fail(error); failure.resolve(error) } })
        replica.attach(driver)
        await transport.start()
        driver.start()
      }
      node = new ClusterNode(options, host, state ?? { clusterId: '', seed, seeds: [] }, token ?? '', replica, driver, transport, storage, joinHint, failure.promise)
      const started = node
      await serveForwarded(host, async call => await started.router.handle(call), node.forwardCounters, log.child({ component: 'forward' }))
      if (joining) {
        const joined = await node.membership.joinCluster(options.join)
        state = { clusterId: joined.clusterId, seed, seeds: joined.seeds }
        node.state = state
        node.seeds = [...joined.seeds]
        await writeSecretFile(tokenPath, `${joined.token}\n`)
        await writeNodeState(statePath, state)
        ;(node as { token: string }).token = joined.token
      }
      await node.startApi()
      const capacity = await measureCapacity(dataDir)
      node.jobRoles = new JobRoles({
        self: id,
        roles: options.roles,
        host: podHost(options.listen.host),
        handle: async call => await started.router.handle(call),
        callNode: async (peer, call, timeoutMs) => await started.callNode(peer, call, timeoutMs),
        gossip: () => started.gossip?.list() ?? [],
        deadAfterMs: options.rescheduleAfterMs ?? resManTimings.deadAfterMs,
        requestTimeoutMs: node.requestTimeoutMs,
        logger: log
      })
      if (options.roles.includes('agent')) {
        node.agentRole = await NodeAgent.start({ dataDir, node: id, capacity, reserve: { ...defaultReserve, ...options.reserve }, handle: async call => await started.router.handle(call), director: node.jobRoles.relay, silentMs: options.rescheduleAfterMs ?? resManTimings.deadAfterMs, logger: log.child({ component: 'agent' }) })
      }
      node.gossip = new GossipService({
        host,
        logger: log.child({ component: 'gossip' }),
        suspectAfterMs: options.suspectAfterMs,
        deadAfterMs: options.deadAfterMs,
        report: () => ({ ...started.membership.ownRecord(), capacity, uptimeMs: Math.round(process.uptime() * 1000), agent: started.agentRole?.report() })
      })
      node.gossip.start()
      node.jobRoles.start()
      node.startBackground()
      log.info('node started', { id, cluster: node.state.clusterId, seed, listen: host.getMultiaddrs().map(String), api: `${node.apiAddress.host}:${node.apiAddress.port}` })
      return node
    } catch (error) {
      if (node !== undefined) await node.stop().catch(() => {})
      else {
        await Promise.resolve(host.stop()).catch(() => {})
        await storage?.close().catch(() => {})
      }
      throw error
    }
  }

  get clusterId (): string { return this.state.clusterId }
  /** What the Raft transport counted (sent, dropped, malformed, …); undefined on a node that is not a seed. */
  get raftCounters (): Readonly<RaftTransportCounters> | undefined { return this.transport?.counters }
  get api (): HostPort { return this.apiAddress }
  get name (): string { return this.options.name }
  get seed (): boolean { return this.state.seed }

  /**
   * Hands leadership to another voter (when leader), then stops everything cleanly. Containers
   * keep running for the next start, unless `disposable` (the data dir goes next): then they go.
   */
  async stop (options: { readonly disposable?: boolean } = {}): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    for (const timer of this.timers) clearInterval(timer)
    this.membership.stop()
    if (this.replica?.isLeader === true && this.replica.conf.voters.length > 1) {
      try {
        await this.transferLeader(undefined)
      } catch (error) {
        this.options.logger.warn('leadership transfer failed', { error: (error as Error).message })
      }
    }
    // Without a quorum in reach (the other seeds stopped or gone), a revoke of the role lease could
    // not commit: its locks expire with it on the next leader instead.
    const quorum = this.membership.quorumConnected()
    await new Promise<void>(resolve => {
      if (this.apiServer === undefined) { resolve(); return }
      this.apiServer.close(() => { resolve() })
      this.apiServer.closeAllConnections()
    })
    await this.jobRoles?.stop({ revoke: quorum })
    this.gossip?.stop()
    await this.agentRole?.stop(options)
    await this.replica?.detach()
    await this.driver?.stop()
    await this.transport?.stop()
    this.idleStreams.closeAll()
    await this.host.stop()
    await this.storage?.close()
  }

  /** Serves a call as the HTTP API would (used by tests and by the node itself). */
  async handle (call: ApiCall): Promise<ApiReply> {
    return await this.router.handle(call)
  }

  // ---- RouterNode ----

  agent (): unknown {
    if (this.agentRole === undefined) throw new ApiFailure('ERR_NOT_FOUND', `node ${this.options.name} does not run the agent role`)
    return { report: this.agentRole.report(), containers: this.agentRole.containers() }
  }

  agentLogs (container: string, call: ApiCall): ApiReply {
    if (this.agentRole === undefined) throw new ApiFailure('ERR_NOT_FOUND', `node ${this.options.name} does not run the agent role`)
    return this.agentRole.logs(container, call.query, call.signal)
  }

  async jobs (call: ApiCall): Promise<ApiReply> {
    if (this.jobRoles === undefined) throw new ApiFailure('ERR_NO_LEADER', 'this node is still starting')
    return await this.jobRoles.handle(call)
  }

  appMasterPull (body: unknown): ApiReply {
    if (this.jobRoles === undefined) throw new ApiFailure('ERR_NOT_HOLDER', 'this node is still starting')
    return this.jobRoles.pull(body)
  }

  /** A call to one node by its id, at the addresses its gossip report or registry record gives. */
  async callNode (peer: NodeId, call: ApiCall, timeoutMs: number): Promise<ApiReply> {
    if (peer === this.id) return await this.router.handle(call)
    const addresses = this.gossip?.get(peer)?.report.addresses ?? []
    return await forwardCall(this.host, { id: peer, addresses }, call, timeoutMs, this.idleStreams)
  }

  async forward (call: ApiCall, to: 'leader' | 'voter'): Promise<ApiReply> {
    if (call.hops >= forwardLimits.maxHops) throw new ApiFailure('ERR_NO_LEADER', `the request passed through ${call.hops} nodes without reaching ${to === 'leader' ? 'the leader' : 'a voting seed'}`)
    const deadline = performance.now() + this.requestTimeoutMs
    const answerMs = forwardAnswerMs(call, this.requestTimeoutMs)
    let lastError: unknown
    while (performance.now() < deadline && !call.signal.aborted) {
      for (const target of listForwardTargets(this.id, this.replica, this.seeds)) {
        if (performance.now() >= deadline) break
        try {
          return await forwardCall(this.host, target, call, answerMs, this.idleStreams)
        } catch (error) {
          // Once the request went out, another node must not run it again: its outcome is unknown.
          if (!(error instanceof ForwardDialError) && call.method !== 'GET') throw new ApiFailure('ERR_TIMEOUT', `no answer from the node the request was passed to (the outcome is unknown): ${(error as Error).message}`)
          lastError = error
        }
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    throw new ApiFailure('ERR_NO_LEADER', `cannot reach ${to === 'leader' ? 'the leader' : 'a seed'}${lastError === undefined ? ' (none known)' : `: ${(lastError as Error).message}`}`)
  }

  status (): StatusBody {
    const self = { clusterId: this.state.clusterId, id: this.id, name: this.options.name, seed: this.state.seed }
    return buildStatus(self, requireReplica(this.replica), this.driver?.status(), this.gossip)
  }

  members (): MemberBody[] {
    return buildMembers(requireReplica(this.replica), this.driver?.status(), this.gossip)
  }

  nodes (): NodeBody[] {
    return buildNodes(requireReplica(this.replica), this.gossip)
  }

  /** On the leader: registers a node and, for a seed, adds it as a learner (promoted once caught up). */
  async join (body: unknown): Promise<unknown> {
    return await this.membership.join(body)
  }

  async removePeer (id: NodeId): Promise<void> {
    await this.membership.removePeer(id)
  }

  async transferLeader (id: NodeId | undefined): Promise<NodeId> {
    return await this.membership.transferLeader(id)
  }

  // ---- internals ----

  private async startApi (): Promise<void> {
    const { server, address } = await startApiServer({ listen: this.options.api, token: this.token, handle: async call => await this.router.handle(call), logger: this.options.logger })
    this.apiServer = server
    this.apiAddress = address
  }

  private startBackground (): void {
    this.membership.start()
    // Gossip travels over open connections: a node that has none (a non-seed after a restart, or
    // after its seed died) dials the seeds it knows.
    this.timers.push(setInterval(() => { this.keepConnected().catch(() => {}) }, 2000))
  }

  private async keepConnected (): Promise<void> {
    if (this.stopping || this.host.getConnections().length > 0) return
    for (const target of listForwardTargets(this.id, this.replica, this.seeds)) {
      try {
        await this.host.dial(target.addresses.map(address => multiaddr(`${address}/p2p/${target.id ?? ''}`)), { signal: AbortSignal.timeout(2000) })
        return
      } catch {
        // try the next seed
      }
    }
  }
}

async function givenClusterKey (options: ClusterNodeOptions): Promise<{ key: Uint8Array, text: string } | undefined> {
  if (options.clusterKeyFile !== undefined) {
    let text: string
    try {
      text = await readFile(options.clusterKeyFile, 'utf8')
    } catch (error) {
      throw new KeyFileError(`cannot read the cluster key file ${options.clusterKeyFile}`, { cause: error })
    }
    return { key: parseClusterKey(text, options.clusterKeyFile), text }
  }
  if (options.clusterKeyEnv !== undefined && options.clusterKeyEnv !== '') {
    const text = options.clusterKeyEnv.includes('\n') ? options.clusterKeyEnv : options.clusterKeyEnv.replace(/\\n/g, '\n')
    return { key: parseClusterKey(text, 'GALAXY_CLUSTER_KEY'), text }
  }
  return undefined
}

/** How long a forwarding node waits for the answer: a lock acquire may wait as long as it asked, snapshots move a lot. */
function forwardAnswerMs (call: ApiCall, requestTimeoutMs: number): number {
  if (call.path.endsWith('/operator/snapshot') || call.path.endsWith('/operator/snapshot/restore')) return Math.max(requestTimeoutMs, 300_000)
  if (call.path.endsWith('/lock/acquire')) {
    try {
      const waitMs = Number((JSON.parse(new TextDecoder().decode(call.body)) as { waitMs?: unknown }).waitMs ?? 0)
      if (Number.isFinite(waitMs) && waitMs > 0) return Math.min(waitMs, 5 * 60_000) + 2 * requestTimeoutMs
    } catch {
      // a malformed body is refused by the node that serves it
    }
  }
  return 2 * requestTimeoutMs
}


/** Where a node's pods are reached: its listen host, or, when it listens on every address, its first external IPv4 address. */
function podHost (listenHost: string): string {
  if (listenHost !== '0.0.0.0' && listenHost !== '::') return listenHost
  const external = Object.values(networkInterfaces()).flat().find(address => address !== undefined && address.family === 'IPv4' && !address.internal)
  return external?.address ?? '127.0.0.1'
}
