import type { NodeId } from '../../src/lib/ids.js'
import { MemoryLogger, type LogRecord } from '../../src/lib/logger.js'
import { SeededRng } from '../../src/lib/rng.js'
import type { RaftConfig } from '../../src/raft/config.js'
import { RawNode, type Ready } from '../../src/raft/raw-node.js'
import { MemoryStorage } from '../../src/raft/storage.js'
import type { ConfState, Entry, Message } from '../../src/raft/types.js'

/** A node id for tests: '1', '2', ... */
export const id = (n: number | string): NodeId => String(n) as NodeId

/** Entry data as text, for tests that propose strings. */
export const text = (data: Uint8Array): string => new TextDecoder().decode(data)
export const bytes = (value: string): Uint8Array => new TextEncoder().encode(value)

/** The storage every member of a new cluster starts with: conf changes adding the voters, committed at term 1 (as etcd bootstraps). */
export function bootstrapStorage<S extends MemoryStorage = MemoryStorage> (voters: readonly NodeId[], storage: S = new MemoryStorage() as S): S {
  storage.save({
    entries: voters.map((node, i) => ({ term: 1, index: i + 1, type: 'confChange' as const, change: { type: 'addVoter' as const, node } })),
    hardState: { term: 1, vote: null, commit: voters.length }
  })
  return storage
}

/** One member of a test cluster: the core, what it persisted, what it applied. */
export interface TestNode {
  readonly id: NodeId
  node: RawNode
  readonly storage: MemoryStorage
  /** Normal entries with data, in apply order. */
  readonly applied: Entry[]
  conf: ConfState
  readonly logs: LogRecord[]
  readonly readStates: Array<{ index: number, context: string }>
}

export type ClusterOptions = Partial<Omit<RaftConfig, 'id' | 'rng' | 'logger'>> & { readonly seed?: number }

/**
 * Raft cores wired by an in-memory network that the test drives by hand: which messages are
 * delivered, dropped or cut off is decided step by step. Persistence follows the Ready contract on
 * a `MemoryStorage` per node; a restart keeps exactly what was saved.
 */
export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>()
  /** Messages sent and not yet delivered, in send order. */
  queue: Message[] = []
  /** Pairs that cannot talk ("a>b"): messages between them are dropped when sent. */
  readonly cut = new Set<string>()

  constructor (count: number, readonly options: ClusterOptions = {}) {
    const voters = Array.from({ length: count }, (_, i) => id(i + 1))
    for (const node of voters) this.addNode(node, bootstrapStorage(voters))
  }

  /** Starts a node on the given storage (a new member, or a restart). */
  addNode (node: NodeId, storage: MemoryStorage): TestNode {
    const logs: LogRecord[] = []
    const previous = this.nodes.get(node)
    const snapshot = storage.snapshotMetadata()
    const member: TestNode = {
      id: node,
      node: this.newRawNode(node, storage, logs, snapshot.index),
      storage,
      applied: previous?.applied.filter(entry => entry.index <= snapshot.index) ?? [],
      conf: snapshot.conf,
      logs,
      readStates: []
    }
    this.nodes.set(node, member)
    return member
  }

  private newRawNode (node: NodeId, storage: MemoryStorage, logs: LogRecord[], applied: number): RawNode {
    const { seed = 1, ...rest } = this.options
    return new RawNode({
      electionTicks: 10,
      heartbeatTicks: 1,
      ...rest,
      id: node,
      applied,
      rng: new SeededRng(seed * 1000 + Number(node)),
      logger: new MemoryLogger(logs, { node })
    }, storage)
  }

  get (n: number | string): TestNode {
    const member = this.nodes.get(id(n))
    if (member === undefined) throw new Error(`no node ${n}`)
    return member
  }

  /** Carries out one Ready of a node per the contract; returns it, or undefined when nothing was ready. */
  processReady (n: number | string): Ready | undefined {
    const member = this.get(n)
    if (!member.node.hasReady()) return undefined
    const ready = member.node.ready()
    for (const message of ready.earlyMessages) this.send(message)
    member.storage.save(ready)
    for (const message of ready.messages) this.send(message)
    if (ready.snapshot !== undefined) {
      member.conf = ready.snapshot.metadata.conf
      member.applied.splice(0, member.applied.length, ...decodeAppliedLog(ready.snapshot.data))
    }
    for (const entry of ready.committedEntries) {
      if (entry.type === 'confChange') member.conf = member.node.applyConfChange(entry)
      else if (entry.data.byteLength > 0) member.applied.push(entry)
    }
    member.readStates.push(...ready.readStates)
    member.node.advance(ready)
    return ready
  }

  send (message: Message): void {
    if (this.cut.has(`${message.from}>${message.to}`)) return
    this.queue.push(message)
  }

  /** Delivers the queued messages addressed to `n` (all nodes when omitted), in order. Returns them. */
  deliver (n?: number | string): Message[] {
    const target = n === undefined ? undefined : id(n)
    const now = this.queue.filter(message => target === undefined || message.to === target)
    this.queue = this.queue.filter(message => !now.includes(message))
    for (const message of now) this.nodes.get(message.to)?.node.step(message)
    return now
  }

  /** Processes Readies and delivers messages until nothing moves. */
  stabilize (maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      let moved = false
      for (const node of this.nodes.keys()) if (this.processReady(node) !== undefined) moved = true
      if (this.deliver().length > 0) moved = true
      if (!moved) return
    }
    throw new Error('cluster did not stabilize')
  }

  tick (n: number | string, times = 1): void {
    for (let i = 0; i < times; i++) this.get(n).node.tick()
  }

  /** Cuts a node off from every other (both directions). */
  isolate (n: number | string): void {
    for (const other of this.nodes.keys()) {
      if (other === id(n)) continue
      this.cut.add(`${id(n)}>${other}`)
      this.cut.add(`${other}>${id(n)}`)
    }
  }

  heal (): void {
    this.cut.clear()
  }

  /** Crashes and restarts a node: whatever it had not saved is lost, queued messages to it too. */
  restart (n: number | string): TestNode {
    const member = this.get(n)
    this.queue = this.queue.filter(message => message.to !== member.id)
    return this.addNode(member.id, member.storage)
  }

  leader (): TestNode | undefined {
    return [...this.nodes.values()].find(member => member.node.status().role === 'leader')
  }

  /** Ticks node `n` one at a time (settling the cluster after each) until its role or term changes; returns how many ticks that took. */
  ticksUntilCampaign (n: number, limit: number): number {
    const { term, role } = this.get(n).node.status()
    for (let ticks = 1; ticks <= limit; ticks++) {
      this.tick(n)
      this.stabilize()
      const now = this.get(n).node.status()
      if (now.role !== role || now.term !== term) return ticks
    }
    return Number.POSITIVE_INFINITY
  }

  /**
   * Leaves node `behind` needing a snapshot from leader `n`: cut off while `proposals` entries
   * commit, then the leader snapshots (with `data` as the snapshot's bytes) and compacts its whole
   * log. Heals the network; returns the snapshot's index.
   */
  compactPast (n: number, behind: number, proposals: number, data: Uint8Array): number {
    this.isolate(behind)
    for (let i = 0; i < proposals; i++) {
      this.get(n).node.propose(bytes(`w${i}`))
      this.stabilize()
    }
    const leader = this.get(n)
    const { applied } = leader.node.status()
    leader.storage.createSnapshot(applied, leader.conf, data)
    leader.storage.compact(applied)
    this.heal()
    return applied
  }

  /** Elects node `n` by campaigning and letting the cluster settle (after applying what is committed). */
  elect (n: number | string): void {
    this.stabilize()
    this.get(n).node.campaign()
    this.stabilize()
  }
}

/** Test snapshots carry the applied entries' data, so a node restored from one applies the same sequence. */
export function encodeAppliedLog (entries: readonly Entry[]): Uint8Array {
  return bytes(JSON.stringify(entries.map(entry => entry.type === 'normal' ? [entry.term, entry.index, text(entry.data)] : null)))
}

function decodeAppliedLog (data: Uint8Array): Entry[] {
  if (data.byteLength === 0) return []
  return (JSON.parse(text(data)) as Array<[number, number, string]>).map(([term, index, value]) => ({ term, index, type: 'normal', data: bytes(value) }))
}
