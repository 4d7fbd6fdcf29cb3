import type { NodeId } from '../../src/lib/ids.js'
import type { Ready } from '../../src/raft/raw-node.js'
import type { Entry } from '../../src/raft/types.js'

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

/** What an entry says, for comparing logs: its data, or its membership change. */
export function payloadOf (entry: Entry): string {
  return entry.type === 'normal' ? new TextDecoder().decode(entry.data) : `conf:${entry.change.type}:${entry.change.node}`
}

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
 * - snapshots hold exactly what was applied up to their index;
 * - monotonicity: a node's persisted term and commit never go back, across restarts too;
 * - reads: a read index is never below a write that completed before the read was asked for.
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

  /** Call when a node installs a snapshot: what it carries must be what was applied at those indexes. */
  snapshotContents (node: NodeId, index: number, applied: ReadonlyArray<readonly [number, string]>): void {
    for (const [at, payload] of applied) {
      const known = this.applied.get(at)
      if (known !== undefined && known !== payload) this.violate('snapshot contents', `${node} installed a snapshot at ${index} with "${payload}" at ${at} where "${known}" was applied`)
    }
    this.appliedUpTo(node, index)
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
    if (payload.startsWith('w')) this.completedWriteIndex = Math.max(this.completedWriteIndex, entry.index)
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
