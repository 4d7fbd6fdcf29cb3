import { assert } from '../../src/lib/assert.js'
import { SeededRng } from '../../src/lib/rng.js'

/**
 * One client-observed operation. `call` and `ret` are the times the client invoked it and saw it
 * complete, on one clock shared by all clients. `ret = Infinity` marks an operation whose outcome
 * is unknown (timeout, connection lost after sending): it may have taken effect at any point after
 * `call`, or never, and its `output` is not looked at. A read that failed or timed out carries no
 * information and is best left out of the history.
 */
export interface Operation<I, O> {
  client: number | string
  input: I
  output: O
  call: number
  ret: number
}

/**
 * A sequential specification. `step` must not mutate `state`: the checker keeps earlier states
 * to backtrack to.
 */
export interface Model<S, I, O> {
  /** The state before any operation. */
  init(): S
  /**
   * Applies `input` to `state`. Returns whether `output` is a legal answer, and the next state.
   * `output` is `undefined` for an operation with an unknown outcome: accept every outcome it may
   * have had (the checker itself covers "it never took effect").
   */
  step(state: S, input: I, output: O | undefined): [boolean, S]
  /** A canonical string for `state`: equal keys mean equal states. */
  key(state: S): string
  /**
   * Splits a history into sub-histories that can be checked independently (linearizability is
   * local per object, Herlihy & Wing §3.3), e.g. one per key. Without it the history is one piece.
   */
  partition?(history: Operation<I, O>[]): Operation<I, O>[][]
}

/**
 * The verdict. `illegal` names the first failing partition (an index into `model.partition`'s
 * result, 0 without one), its operations, and the longest prefix of a linearization the search
 * found for them: the operation that could not come next is where to look.
 * `unknown` means the time budget ran out before a verdict (the problem is NP-complete).
 */
export type CheckResult<I = unknown, O = unknown> =
  | { result: 'ok' }
  | { result: 'illegal', partition: number, operations: Operation<I, O>[], longestLinearization: Operation<I, O>[] }
  | { result: 'unknown', reason: string }

/** Options of `checkOperations`. */
export interface CheckOptions {
  /** Budget for the whole history, all partitions together; 10 s unless given. */
  timeoutMs?: number
  /** Seed of the Zobrist words; any value gives the same verdict. */
  seed?: number
}

const DEFAULT_TIMEOUT_MS = 10_000
/** Search steps between two looks at the clock. */
const STEPS_PER_CLOCK_CHECK = 1024

/**
 * Decides whether `history` is linearizable with respect to `model`: the Wing & Gong search as
 * improved by Lowe, per partition as in porcupine (see reference/raft.md §5.2). Returns `unknown`
 * once `timeoutMs` has elapsed. Throws on a malformed operation (call not finite, ret < call).
 * Two refinements keep unknown outcomes from blowing the search up (both exact, see
 * `checkPartition`): a cached node also covers nodes that add unknown-outcome operations to it,
 * and an unknown-outcome operation whose effect overwrites the one just before it is skipped.
 */
export function checkOperations<S, I, O> (model: Model<S, I, O>, history: Operation<I, O>[], options: CheckOptions = {}): CheckResult<I, O> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  assert(timeoutMs >= 0, 'timeoutMs must not be negative', { timeoutMs })
  for (const op of history) {
    assert(Number.isFinite(op.call) && !Number.isNaN(op.ret) && op.ret >= op.call,
      'an operation needs a finite call time and a return time not before it', { client: op.client, call: op.call, ret: op.ret })
  }
  const deadlineMs = performance.now() + timeoutMs
  const partitions = model.partition === undefined ? [history] : model.partition(history)
  // Small partitions first: a cheap illegal verdict should not wait behind an expensive search.
  const order = partitions.map((_, index) => index).sort((a, b) => (partitions[a]?.length ?? 0) - (partitions[b]?.length ?? 0))
  const rng = new SeededRng(options.seed ?? 0x11ea7)
  for (const index of order) {
    const operations = partitions[index]
    assert(operations !== undefined, 'partition index out of range', { index })
    const outcome = checkPartition(model, operations, rng, deadlineMs)
    if (outcome.result === 'timeout') {
      return { result: 'unknown', reason: `time budget of ${timeoutMs} ms ran out in partition ${index} of ${partitions.length} (${operations.length} operations)` }
    }
    if (outcome.result === 'illegal') {
      return { result: 'illegal', partition: index, operations, longestLinearization: outcome.longest.map(i => operations[i] as Operation<I, O>) }
    }
  }
  return { result: 'ok' }
}

type PartitionOutcome = { result: 'ok' } | { result: 'illegal', longest: number[] } | { result: 'timeout' }

/** A reached (linearized set, state) pair; the Zobrist hash of the set's known-outcome part is its bucket. */
interface CacheEntry {
  bits: Uint32Array
  stateKey: string
}

/** The search on one partition; `ok` once every known-outcome operation has been linearized. */
function checkPartition<S, I, O> (model: Model<S, I, O>, ops: Operation<I, O>[], rng: SeededRng, deadlineMs: number): PartitionOutcome {
  const n = ops.length
  // Step 1: two events per operation, sorted by time, calls before returns at equal times (so
  // touching intervals count as concurrent), threaded into a doubly linked list. Node 0 is the
  // head sentinel; node 1 + 2i is the call of op i and node 2 + 2i its return.
  const nodeCount = 1 + 2 * n
  const events: number[] = []
  for (let i = 0; i < n; i++) events.push(1 + 2 * i, 2 + 2 * i)
  const timeOf = (node: number): number => {
    const op = ops[(node - 1) >> 1] as Operation<I, O>
    return isCallNode(node) ? op.call : op.ret
  }
  events.sort((a, b) => {
    const byTime = timeOf(a) - timeOf(b)
    if (byTime !== 0 && !Number.isNaN(byTime)) return byTime
    if (isCallNode(a) !== isCallNode(b)) return isCallNode(a) ? -1 : 1
    return a - b
  })
  const NIL = -1
  const next = new Int32Array(nodeCount).fill(NIL)
  const prev = new Int32Array(nodeCount).fill(NIL)
  let last = 0
  for (const node of events) {
    next[last] = node
    prev[node] = last
    last = node
  }

  // The cache holds (linearized set, state) pairs already reached. An operation with an unknown
  // outcome may also never take effect, so a node is pruned not only when its exact pair is
  // cached but when a cached node has the same known-outcome operations and the same state with
  // a subset of its unknown-outcome ones: whatever completes this node completes that one.
  // (Exact equality is the special case of equal subsets; without unknown outcomes it is the
  // only case.) Zobrist words hash only the known-outcome part, so both land in one bucket.
  const isKnown = ops.map(op => op.ret !== Infinity)
  const wordCount = (n + 31) >>> 5
  const knownMask = new Uint32Array(wordCount)
  const zobristHigh = new Uint32Array(n)
  const zobristLow = new Uint32Array(n)
  for (let i = 0; i < n; i++) {
    const high = rng.uint32()
    const low = rng.uint32()
    if (isKnown[i] !== true) continue
    zobristHigh[i] = high
    zobristLow[i] = low
    knownMask[i >>> 5] = (knownMask[i >>> 5] as number) | (1 << (i & 31))
  }
  let remainingKnown = isKnown.filter(Boolean).length

  const bits = new Uint32Array(wordCount)
  let hashHigh = 0
  let hashLow = 0
  const cache = new Map<number, CacheEntry[]>()
  /** Adds the current (set, state) to the cache; false if a cached node covers it already. */
  const remember = (stateKey: string): boolean => {
    const bucketKey = (hashHigh >>> 0) * 2 ** 21 + (hashLow >>> 11)
    const bucket = cache.get(bucketKey)
    if (bucket === undefined) {
      cache.set(bucketKey, [{ bits: bits.slice(), stateKey }])
      return true
    }
    // A hash hit may be a collision: compare the exact sets so nothing is pruned wrongly.
    for (const entry of bucket) {
      if (entry.stateKey === stateKey && covers(entry.bits, bits, knownMask)) return false
    }
    bucket.push({ bits: bits.slice(), stateKey })
    return true
  }
  const toggle = (i: number): void => {
    bits[i >>> 5] = (bits[i >>> 5] as number) ^ (1 << (i & 31))
    hashHigh ^= zobristHigh[i] as number
    hashLow ^= zobristLow[i] as number
  }
  const lift = (node: number): void => {
    next[prev[node] as number] = next[node] as number
    if (next[node] !== NIL) prev[next[node] as number] = prev[node] as number
  }
  const unlift = (node: number): void => {
    next[prev[node] as number] = node
    if (next[node] !== NIL) prev[next[node] as number] = node
  }

  // Step 2: depth-first search over the order in which pending calls take effect.
  let state = model.init()
  remember(model.key(state))
  const stackOps: number[] = []
  const stackStates: S[] = []
  /**
   * Whether applying the unknown-outcome `op` right after another unknown-outcome operation ends
   * in `stateKey`, the state `op` alone reaches from before that other one (a put overwriting a
   * put). The node is then covered by the one without the other operation, which the parent node
   * tries as well (`op` is a candidate there too: lifting an unknown outcome moves no return).
   * Without this, k pending unknown puts would be explored in all 2^k subsets.
   */
  const isAbsorbed = (op: Operation<I, O>, stateKey: string): boolean => {
    const top = stackOps[stackOps.length - 1]
    if (top === undefined || isKnown[top] === true) return false
    const [isLegal, alone] = model.step(stackStates[stackStates.length - 1] as S, op.input, undefined)
    return isLegal && model.key(alone) === stateKey
  }
  let longest: number[] = []
  // The candidates at a node are the calls before the first return. They are tried in two passes
  // over them: known outcomes first, then unknown ones. Trying "not yet, maybe never" first for
  // an unknown outcome is what lets the covering rule above prune the branches that add it later.
  let isKnownPass = true
  let entry = next[0] as number
  let steps = 0
  // Done once every operation with a known outcome is linearized: the rest may never have happened.
  while (remainingKnown > 0) {
    if (++steps % STEPS_PER_CLOCK_CHECK === 0 && performance.now() > deadlineMs) return { result: 'timeout' }
    assert(entry !== NIL, 'the list ran out with operations of known outcome left', { remainingKnown })
    const i = (entry - 1) >> 1
    const op = ops[i] as Operation<I, O>
    const known = isKnown[i] === true
    if (isCallNode(entry)) {
      // Step 3: try to make this call take effect now.
      if (known === isKnownPass) {
        const [isLegal, nextState] = model.step(state, op.input, known ? op.output : undefined)
        if (isLegal) {
          const stateKey = model.key(nextState)
          toggle(i)
          if (!(!known && isAbsorbed(op, stateKey)) && remember(stateKey)) {
            stackOps.push(i)
            stackStates.push(state)
            state = nextState
            lift(entry)
            lift(entry + 1)
            if (known) remainingKnown--
            isKnownPass = true
            entry = next[0] as number
            continue
          }
          toggle(i)
        }
      }
      entry = next[entry] as number
    } else if (isKnownPass) {
      isKnownPass = false
      entry = next[0] as number
    } else {
      // Step 4: a return with its call still pending: nothing fits before it, so backtrack.
      assert(known, 'reached the return of an operation with unknown outcome', { remainingKnown })
      if (stackOps.length > longest.length) longest = stackOps.slice()
      const popped = stackOps.pop()
      if (popped === undefined) return { result: 'illegal', longest }
      state = stackStates.pop() as S
      toggle(popped)
      const call = 1 + 2 * popped
      unlift(call + 1)
      unlift(call)
      isKnownPass = isKnown[popped] === true
      if (isKnownPass) remainingKnown++
      entry = next[call] as number
    }
  }
  return { result: 'ok' }
}

function isCallNode (node: number): boolean {
  return (node & 1) === 1
}

/** Whether `cached` has the same known-outcome operations as `current` and a subset of its others. */
function covers (cached: Uint32Array, current: Uint32Array, knownMask: Uint32Array): boolean {
  for (let k = 0; k < cached.length; k++) {
    const a = cached[k] as number
    const b = current[k] as number
    if (((a ^ b) & (knownMask[k] as number)) !== 0 || (a & ~b) !== 0) return false
  }
  return true
}

// ---------------------------------------------------------------------------------------------
// A key-value store of registers.

/** An operation on one key of a key-value register store. */
export type KvInput =
  | { op: 'put', key: string, value: string }
  | { op: 'get', key: string }
  | { op: 'cas', key: string, expected: string | null, value: string }

/**
 * What the client saw. `put` is always `ok: true`; `get` has `ok: true` and `value` (null when
 * absent); `cas` has `ok: true` if it swapped, and a failed one may report the `value` it found
 * (checked when present).
 */
export interface KvOutput {
  ok: boolean
  value?: string | null
}

/** One key's value, null when absent. */
export type KvState = string | null

/**
 * The model of a key-value store of linearizable registers, partitioned per key. Puts known to
 * have failed must be left out of the history (every recorded put with a known outcome is
 * `ok: true`); gets with an unknown outcome are dropped. When written values are unique per key
 * and a key has no cas, unknown-outcome puts whose value no get returned are dropped too (raft.md
 * §5.2): such a put can always be taken as never having happened.
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => null,
  step (state, input, output) {
    switch (input.op) {
      case 'put':
        return [true, input.value]
      case 'get':
        return [output === undefined || output.value === state, state]
      case 'cas': {
        const matches = state === input.expected
        // Unknown outcome: it swapped if it took effect while the value matched, else it was a no-op.
        if (output === undefined) return [true, matches ? input.value : state]
        if (output.ok) return [matches, matches ? input.value : state]
        return [!matches && (output.value === undefined || output.value === state), state]
      }
    }
  },
  key: state => JSON.stringify(state),
  partition (history) {
    const byKey = new Map<string, Operation<KvInput, KvOutput>[]>()
    for (const op of history) {
      const known = op.ret !== Infinity
      if (known && op.input.op === 'put') assert(op.output.ok, 'a put with a known outcome must have succeeded; leave failed puts out', { client: op.client, key: op.input.key })
      if (known && op.input.op === 'get') assert(op.output.ok && op.output.value !== undefined, 'a get with a known outcome must be ok and carry a value', { client: op.client, key: op.input.key })
      if (!known && op.input.op === 'get') continue
      let ops = byKey.get(op.input.key)
      if (ops === undefined) byKey.set(op.input.key, ops = [])
      ops.push(op)
    }
    return [...byKey.values()].map(pruneUnobservedPuts)
  }
}

/**
 * Drops unknown-outcome puts whose value no get returned, on a key without cas where that value
 * is written once. Sound and complete: in any linearization with such a put, the next operation
 * on the key is a write (a get in between would have returned its value), so removing it changes
 * no output; and a linearization without it is one where it never took effect.
 */
function pruneUnobservedPuts (ops: Operation<KvInput, KvOutput>[]): Operation<KvInput, KvOutput>[] {
  if (ops.some(op => op.input.op === 'cas')) return ops
  const writes = new Map<string, number>()
  const observed = new Set<string | null>()
  for (const op of ops) {
    if (op.input.op === 'put') writes.set(op.input.value, (writes.get(op.input.value) ?? 0) + 1)
    if (op.input.op === 'get' && op.ret !== Infinity) observed.add(op.output.value ?? null)
  }
  return ops.filter(op => !(op.ret === Infinity && op.input.op === 'put' &&
    writes.get(op.input.value) === 1 && !observed.has(op.input.value)))
}
