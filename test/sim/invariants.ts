import type { NodeId } from '../../src/lib/ids.js'
import type { Ready } from '../../src/raft/raw-node.js'
import type { Entry } from '../../src/raft/types.js'
import type { StoreData } from '../../src/store/state-machine.js'
import type { KeyValue } from '../../src/store/types.js'

/** A broken safety property, with the virtual time it was seen at. */
export interface Violation {
  readonly atMs: number
  readonly property: string
  readonly detail: string
}

/** A 64-bit-ish running hash (two FNV-1a lanes) of a log prefix, as a string. */
function chainHash (previous: string, term: number, payload: string): string {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ 0x5bd1e995
  const input = `${previous}|${term}|${payload}`
  for (let i = 0; i < input.length; i++) {
    const code = input.charCodeAt(i)
    a = Math.imul(a ^ code, 0x01000193) >>> 0
    b = Math.imul(b ^ code, 0x5bd1e995) >>> 0
  }
  return `${a.toString(16)}${b.toString(16)}`
}

/** The same two FNV-1a lanes, fed words (a char, a byte, half a number, a length) one at a time. */
class Fingerprint {
  private a = 0x811c9dc5
  private b = 0x01000193 ^ 0x5bd1e995

  word (value: number): void {
    this.a = Math.imul(this.a ^ value, 0x01000193) >>> 0
    this.b = Math.imul(this.b ^ value, 0x5bd1e995) >>> 0
  }

  number (value: number): void {
    this.word(value >>> 0)
    this.word(Math.floor(value / 2 ** 32))
  }

  text (value: string): void {
    this.word(value.length)
    for (let i = 0; i < value.length; i++) this.word(value.charCodeAt(i))
  }

  bytes (value: Uint8Array): void {
    this.word(value.byteLength)
    for (let i = 0; i < value.byteLength; i++) this.word(value[i] as number)
  }

  /** Any plain value (an answer kept in a session): objects by sorted keys, so field order does not count. */
  value (value: unknown): void {
    if (typeof value === 'string') {
      this.text(value)
    } else if (typeof value === 'number') {
      this.number(value)
    } else if (typeof value === 'boolean') {
      this.word(value ? 3 : 4)
    } else if (value instanceof Uint8Array) {
      this.bytes(value)
    } else if (Array.isArray(value)) {
      this.word(value.length)
      for (const item of value) this.value(item)
    } else if (value === null || value === undefined) {
      this.word(5)
    } else {
      const record = value as Record<string, unknown>
      for (const key of Object.keys(record).sort()) {
        this.text(key)
        this.value(record[key])
      }
    }
  }

  digest (): string {
    return `${this.a.toString(16)}${this.b.toString(16)}`
  }
}

/**
 * A fingerprint of a store's whole state, field by field (several times cheaper than encoding it,
 * which matters when every node's state is compared at every few indexes).
 */
export function fingerprintStore (data: StoreData): string {
  const f = new Fingerprint()
  f.number(data.kv.revision)
  f.number(data.kv.compactRevision)
  f.word(data.kv.keys.length)
  for (const kv of data.kv.keys) {
    f.text(kv.key)
    f.bytes(kv.value)
    f.number(kv.createRevision)
    f.number(kv.modRevision)
    f.number(kv.version)
    f.number(kv.lease)
  }
  f.word(data.kv.history.length)
  for (const event of data.kv.history) {
    f.word(event.type === 'put' ? 1 : 2)
    f.number(event.revision)
    f.text(event.key)
    f.bytes(event.value)
    f.number(event.version)
  }
  f.word(data.leases.length)
  for (const lease of data.leases) {
    f.number(lease.id)
    f.number(lease.ttlMs)
  }
  f.word(data.locks.length)
  for (const lock of data.locks) {
    f.text(lock.name)
    if (lock.holder === null) {
      f.word(0)
    } else {
      f.text(lock.holder.owner)
      f.number(lock.holder.lease)
      f.number(lock.holder.token)
    }
    f.word(lock.waiters.length)
    for (const waiter of lock.waiters) {
      f.text(waiter.owner)
      f.number(waiter.lease)
    }
  }
  f.word(data.sessions.length)
  for (const session of data.sessions) {
    f.text(session.client)
    f.number(session.sequence)
    f.number(session.lastIndex)
    f.value(session.result)
  }
  return f.digest()
}

/** What an entry says, for comparing logs: a digest of its data (an encoded command), or its membership change. */
export function payloadOf (entry: Entry): string {
  if (entry.type !== 'normal') return `conf:${entry.change.type}:${entry.change.node}`
  // Nodes share entry objects in the simulator: each digest is computed once.
  let payload = payloads.get(entry.data)
  if (payload === undefined) {
    const f = new Fingerprint()
    f.bytes(entry.data)
    payload = entry.data.byteLength === 0 ? 'noop' : `d${f.digest()}`
    payloads.set(entry.data, payload)
  }
  return payload
}

const payloads = new WeakMap<Uint8Array, string>()

/** A client write: a normal entry with a command (a leader's no-op has none). */
function isWrite (entry: Entry): boolean {
  return entry.type === 'normal' && entry.data.byteLength > 0
}

const text = (value: Uint8Array): string => new TextDecoder().decode(value)

interface NodeView {
  /** index → hash of the node's durable log up to and including that index. */
  chain: Map<number, string>
  /** index → term of the node's durable log. */
  terms: Map<number, number>
  /** The index of the last entry this node applied (or its snapshot's). */
  appliedIndex: number
  /** The highest commit index of this node already checked against the committed record. */
  checkedCommit: number
  term: number
  commit: number
}

/**
 * The safety properties of Raft, checked from what each node persists and applies (Raft paper
 * Figure 3, and the simulator plan of reference/raft.md §6.2):
 * - election safety: at most one leader per term;
 * - log matching: two logs holding an entry with the same index and term agree up to it;
 * - durability and leader completeness: a committed entry never changes, and every leader of a
 *   later term holds it;
 * - state machine safety: every node applies the same entry at each index;
 * - the commit rule (§5.4.2, Figure 8): a leader advances its commit index only to an entry of
 *   its own term;
 * - apply order: each node applies every index once, in order, with no gap;
 * - monotonicity: a node's persisted term and commit never go back, across restarts too;
 * - reads: a read index is never below a write that completed before the read was asked for;
 * and of the store each node applies the log to:
 * - same state: nodes at the same index — by applying entries, or by installing or restarting
 *   from a snapshot — hold the same store state (so snapshots hold exactly what was applied);
 * - sessions: a client's command applies at most once, however often it is retried;
 * - fencing: the tokens successive holders of a lock get strictly increase along the log.
 */
export class InvariantChecker {
  readonly violations: Violation[] = []
  nowMs = 0
  private readonly leaders = new Map<number, NodeId>()
  /** `${index}/${term}` → the prefix hash any log holding that entry must have. */
  private readonly entries = new Map<string, string>()
  /** index → the committed entry's prefix hash, and the lowest term of a node that reported it committed. */
  private readonly committed = new Map<number, { term: number, chain: string, reportedInTerm: number }>()
  private highestCommitted = 0
  /** index → what was applied there. */
  private readonly applied = new Map<number, string>()
  /** The highest index of an applied client write. */
  completedWriteIndex = 0
  private readonly views = new Map<NodeId, NodeView>()
  /** index → the fingerprint of the store state after applying up to it. */
  private readonly storeStates = new Map<number, string>()
  /** lock name → index → the token of the holder it was handed to there. */
  private readonly lockGrants = new Map<string, Map<number, number>>()

  private violate (property: string, detail: string): void {
    this.violations.push({ atMs: this.nowMs, property, detail })
  }

  private view (node: NodeId): NodeView {
    let view = this.views.get(node)
    if (view === undefined) {
      view = { chain: new Map([[0, 'root']]), terms: new Map([[0, 0]]), appliedIndex: 0, checkedCommit: 0, term: 0, commit: 0 }
      this.views.set(node, view)
    }
    return view
  }

  /**
   * Call after a node persisted a Ready (before it applies it), and for what a node starts with.
   * `wasLeader` says the node led `currentTerm` through the whole Ready (its term did not change).
   */
  persisted (node: NodeId, ready: Pick<Ready, 'snapshot' | 'entries' | 'hardState' | 'softState'>, currentTerm: number, wasLeader = false): void {
    const view = this.view(node)
    if (ready.snapshot !== undefined) {
      const { index, term } = ready.snapshot.metadata
      const base = this.entries.get(`${index}/${term}`)
      if (base === undefined) this.violate('snapshot', `${node} installed a snapshot at ${index}/${term} that no log ever held`)
      view.chain = new Map([[index, base ?? `snapshot:${index}/${term}`]])
      view.terms = new Map([[index, term]])
    }
    const last = ready.entries[ready.entries.length - 1]
    for (const entry of ready.entries) {
      const previous = view.chain.get(entry.index - 1)
      if (previous === undefined) {
        this.violate('log', `${node} persisted entry ${entry.index} without a predecessor`)
        return
      }
      const chain = chainHash(previous, entry.term, payloadOf(entry))
      view.chain.set(entry.index, chain)
      view.terms.set(entry.index, entry.term)
      const key = `${entry.index}/${entry.term}`
      const known = this.entries.get(key)
      if (known === undefined) this.entries.set(key, chain)
      else if (known !== chain) this.violate('log matching', `${node} holds ${key} with a different prefix than another log`)
    }
    if (last !== undefined) {
      for (const index of [...view.chain.keys()]) if (index > last.index) view.chain.delete(index)
      for (const index of [...view.terms.keys()]) if (index > last.index) view.terms.delete(index)
    }

    const hardState = ready.hardState
    if (hardState !== undefined) {
      if (hardState.term < view.term) this.violate('monotonic term', `${node} term went from ${view.term} to ${hardState.term}`)
      if (hardState.commit < view.commit) this.violate('monotonic commit', `${node} commit went from ${view.commit} to ${hardState.commit}`)
      if (wasLeader && hardState.term === view.term && hardState.commit > view.commit && view.terms.get(hardState.commit) !== currentTerm) {
        this.violate('commit rule', `${node}, leader of term ${currentTerm}, committed up to ${hardState.commit}, an entry of term ${view.terms.get(hardState.commit)}`)
      }
      view.term = hardState.term
      view.commit = hardState.commit
    }
    this.checkCommitted(node, view, currentTerm)
    if (ready.softState?.role === 'leader') this.becameLeader(node, currentTerm, view)
  }

  private checkCommitted (node: NodeId, view: NodeView, currentTerm: number): void {
    for (let index = view.checkedCommit + 1; index <= view.commit; index++) {
      const chain = view.chain.get(index)
      if (chain === undefined) continue // compacted into a snapshot that was checked when it was made
      const known = this.committed.get(index)
      if (known === undefined) {
        this.committed.set(index, { term: 0, chain, reportedInTerm: currentTerm })
        this.highestCommitted = Math.max(this.highestCommitted, index)
      } else if (known.chain !== chain) {
        this.violate('committed entry changed', `${node} has a different entry at committed index ${index}`)
      } else {
        known.reportedInTerm = Math.min(known.reportedInTerm, currentTerm)
      }
    }
    view.checkedCommit = Math.max(view.checkedCommit, view.commit)
  }

  /** Call whenever a node is seen leading a term. */
  leaderSeen (node: NodeId, term: number): void {
    const existing = this.leaders.get(term)
    if (existing !== undefined && existing !== node) this.violate('election safety', `${existing} and ${node} both led term ${term}`)
    this.leaders.set(term, node)
  }

  private becameLeader (node: NodeId, term: number, view: NodeView): void {
    this.leaderSeen(node, term)
    // Leader completeness (§5.4): every entry committed by a leader of an earlier term is in this log.
    const firstHeld = Math.min(...view.chain.keys())
    for (let index = firstHeld + 1; index <= this.highestCommitted; index++) {
      const committed = this.committed.get(index)
      if (committed === undefined || committed.reportedInTerm >= term) continue
      if (view.chain.get(index) !== committed.chain) this.violate('leader completeness', `${node} leads term ${term} without committed entry ${index}`)
    }
  }

  /** Call when a node starts from its storage, or installs a snapshot: it has applied up to `index`. */
  appliedUpTo (node: NodeId, index: number): void {
    this.view(node).appliedIndex = index
  }

  /**
   * Call with the fingerprint of a node's store state once it applied up to `index` (or made,
   * installed or restarted from a snapshot at `index`): every node must have the same there.
   */
  storeState (node: NodeId, index: number, fingerprint: string): void {
    const known = this.storeStates.get(index)
    if (known === undefined) this.storeStates.set(index, fingerprint)
    else if (known !== fingerprint) this.violate('store state', `${node} holds a different store state at index ${index}`)
  }

  /**
   * Call after a node applied, at `index`, a transaction of `client` with `sequence`; each such
   * transaction also writes the client's stamp key with its sequence, and `before`/`after` are that
   * key around the apply. Applied, it must be written once, by a sequence above the last one that
   * wrote it: a retry that applied again would write it twice for one sequence.
   */
  sessionApplied (node: NodeId, index: number, client: string, sequence: number, before: KeyValue | undefined, after: KeyValue | undefined): void {
    if (after === undefined || after.modRevision === before?.modRevision) return
    const last = before === undefined ? 0 : Number(text(before.value))
    if (after.version !== (before?.version ?? 0) + 1 || Number(text(after.value)) !== sequence || sequence <= last) {
      this.violate('session', `${node} applied ${client}#${sequence} at index ${index} after #${last} (stamp version ${before?.version ?? 0} → ${after.version})`)
    }
  }

  /** Call when a node applying `index` handed lock `name` to a holder with `token` (a grant, a handover or a restore). */
  lockGranted (node: NodeId, name: string, index: number, token: number): void {
    let grants = this.lockGrants.get(name)
    if (grants === undefined) {
      grants = new Map()
      this.lockGrants.set(name, grants)
    }
    const known = grants.get(index)
    if (known !== undefined) {
      if (known !== token) this.violate('fencing', `${node} granted ${name} at index ${index} with token ${token}, another node with ${known}`)
      return
    }
    for (const [at, other] of grants) {
      if ((at < index && other >= token) || (at > index && other <= token)) {
        this.violate('fencing', `${node} granted ${name} at index ${index} with token ${token}, but at index ${at} it went with ${other}`)
        return
      }
    }
    grants.set(index, token)
  }

  /** Call for every entry a node applies, in the order it applies them. */
  appliedEntry (node: NodeId, entry: Entry): void {
    const view = this.view(node)
    if (entry.index !== view.appliedIndex + 1) this.violate('apply order', `${node} applied ${entry.index} after ${view.appliedIndex}`)
    view.appliedIndex = entry.index
    const payload = payloadOf(entry)
    const known = this.applied.get(entry.index)
    if (known === undefined) this.applied.set(entry.index, payload)
    else if (known !== payload) this.violate('state machine safety', `${node} applied "${payload}" at ${entry.index} where another node applied "${known}"`)
    if (isWrite(entry)) this.completedWriteIndex = Math.max(this.completedWriteIndex, entry.index)
  }

  /** Call when a read asked for when `completedWriteIndex` was `floor` is answered with `index`. */
  readAnswered (node: NodeId, context: string, index: number, floor: number): void {
    if (index < floor) this.violate('stale read', `${node} read ${context} got index ${index} below the completed write at ${floor}`)
  }

  /** The committed entries' count, for reports. */
  committedCount (): number {
    return this.highestCommitted
  }
}
