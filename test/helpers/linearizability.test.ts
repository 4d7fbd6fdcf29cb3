import test from 'ava'
import { randomInt, SeededRng } from '../../src/lib/rng.js'
import { checkOperations, kvModel } from './linearizability.js'
import type { KvInput, KvOutput, Model, Operation } from './linearizability.js'

type KvOp = Operation<KvInput, KvOutput>

const U = Infinity

function put (client: number, key: string, value: string, call: number, ret: number): KvOp {
  return { client, input: { op: 'put', key, value }, output: { ok: true }, call, ret }
}

function get (client: number, key: string, value: string | null, call: number, ret: number): KvOp {
  return { client, input: { op: 'get', key }, output: { ok: true, value }, call, ret }
}

function cas (client: number, key: string, expected: string | null, value: string, ok: boolean, call: number, ret: number): KvOp {
  return { client, input: { op: 'cas', key, expected, value }, output: { ok }, call, ret }
}

function check (history: KvOp[], timeoutMs = 5_000): string {
  return checkOperations(kvModel, history, { timeoutMs }).result
}

// Porcupine's register tests, with null for the initial value.
test('a read overlapping a write may see either value', t => {
  t.is(check([
    put(0, 'x', '100', 0, 100),
    get(1, 'x', '100', 25, 75),
    get(2, 'x', null, 30, 60)
  ]), 'ok')
})

test('once a read sees the new value, a later read may not see the old one', t => {
  t.is(check([
    put(0, 'x', '200', 0, 100),
    get(1, 'x', '200', 10, 30),
    get(2, 'x', null, 40, 90)
  ]), 'illegal')
})

test('a read cannot return a value before its write was called', t => {
  t.is(check([get(1, 'x', 'a', 0, 5), put(0, 'x', 'a', 10, 20)]), 'illegal')
  t.is(check([get(1, 'x', 'a', 0, 10), put(0, 'x', 'a', 10, 20)]), 'ok', 'touching intervals are concurrent')
})

test('a read after a completed write must not return the value it replaced', t => {
  t.is(check([put(0, 'x', 'a', 0, 10), put(0, 'x', 'b', 20, 30), get(1, 'x', 'a', 40, 50)]), 'illegal')
  t.is(check([put(0, 'x', 'a', 0, 10), put(0, 'x', 'b', 20, 30), get(1, 'x', 'b', 40, 50)]), 'ok')
  t.is(check([put(0, 'x', 'a', 0, 10), get(1, 'x', null, 20, 30)]), 'illegal')
})

test('an unknown-outcome put may take effect after its caller gave up, and reads then keep seeing it', t => {
  const history = [put(0, 'x', 'a', 0, 10), put(0, 'x', 'b', 20, U), get(1, 'x', 'a', 100, 110), get(1, 'x', 'b', 200, 210)]
  t.is(check(history), 'ok')
  t.is(check([...history, get(2, 'x', 'a', 300, 310)]), 'illegal')
  t.is(check([get(1, 'x', 'b', 0, 10), put(0, 'x', 'b', 20, U)]), 'illegal', 'not before its call')
})

test('an unknown-outcome put that no read observes may never have happened', t => {
  t.is(check([put(0, 'x', 'a', 0, 10), put(0, 'x', 'b', 20, U), get(1, 'x', 'a', 100, 110), get(1, 'x', 'a', 1000, 1010)]), 'ok')
  // Two unknown puts of one value are not pruned; the search alone must still say ok.
  t.is(check([put(0, 'x', 'b', 0, U), put(1, 'x', 'b', 5, U), get(2, 'x', null, 100, 110)]), 'ok')
  t.is(check([put(0, 'x', 'b', 0, U), get(2, 'x', null, 100, 110), put(3, 'x', 'c', 120, 130), get(2, 'x', 'c', 140, 150)]), 'ok')
})

test('unknown-outcome gets carry no information', t => {
  t.is(check([put(0, 'x', 'a', 0, 10), get(1, 'x', 'zzz', 20, U)]), 'ok')
})

test('cas swaps only when the value matches, and fails only when it does not', t => {
  t.is(check([put(0, 'x', 'a', 0, 10), cas(1, 'x', 'a', 'b', true, 20, 30), get(2, 'x', 'b', 40, 50)]), 'ok')
  t.is(check([put(0, 'x', 'a', 0, 10), cas(1, 'x', 'z', 'b', true, 20, 30)]), 'illegal', 'swapped on a mismatch')
  t.is(check([put(0, 'x', 'a', 0, 10), cas(1, 'x', 'a', 'b', false, 20, 30)]), 'illegal', 'failed on a match')
  t.is(check([cas(1, 'x', null, 'b', true, 0, 10), get(2, 'x', 'b', 20, 30)]), 'ok', 'null expects absence')
  t.is(check([put(0, 'x', 'a', 0, 10), cas(1, 'x', 'a', 'b', false, 20, 30), put(0, 'x', 'c', 25, 35)]), 'ok', 'a concurrent write made it fail')
})

test('two concurrent cas with the same expected value cannot both succeed', t => {
  const base = [put(0, 'x', 'a', 0, 10)]
  t.is(check([...base, cas(1, 'x', 'a', 'b', true, 20, 40), cas(2, 'x', 'a', 'c', true, 25, 45)]), 'illegal')
  t.is(check([...base, cas(1, 'x', 'a', 'b', true, 20, 40), cas(2, 'x', 'a', 'c', false, 25, 45), get(3, 'x', 'b', 50, 60)]), 'ok')
  t.is(check([...base, cas(1, 'x', 'a', 'b', true, 20, 40), cas(2, 'x', 'a', 'c', false, 25, 45), get(3, 'x', 'c', 50, 60)]), 'illegal')
})

test('a failed cas that reports the value it found is checked against it', t => {
  const base = [put(0, 'x', 'a', 0, 10)]
  const failed = (value: string | null): KvOp => ({ client: 1, input: { op: 'cas', key: 'x', expected: 'z', value: 'b' }, output: { ok: false, value }, call: 20, ret: 30 })
  t.is(check([...base, failed('a')]), 'ok')
  t.is(check([...base, failed(null)]), 'illegal')
})

test('an unknown-outcome cas may have swapped when its expected value held, or not at all', t => {
  const base = [put(0, 'x', 'a', 0, 10), cas(1, 'x', 'a', 'b', false, 20, U)]
  t.is(check([...base, get(2, 'x', 'b', 30, 40)]), 'ok')
  t.is(check([...base, get(2, 'x', 'a', 30, 40)]), 'ok')
  t.is(check([...base, get(2, 'x', 'a', 30, 40), get(2, 'x', 'b', 50, 60), get(2, 'x', 'a', 70, 80)]), 'illegal')
  t.is(check([put(0, 'x', 'a', 0, 10), cas(1, 'x', 'q', 'b', true, 20, U), get(2, 'x', 'b', 30, 40)]), 'illegal', 'expected never held')
  t.is(check([put(0, 'x', 'a', 0, 10), cas(1, 'x', 'a', 'b', true, 20, U), put(3, 'x', 'c', 30, 40), get(2, 'x', 'c', 50, 60)]), 'ok', 'it may never have happened')
})

test('each key is checked alone, and the verdict names the bad key', t => {
  const history = [
    put(0, 'a', 'a1', 0, 10), put(1, 'b', 'b1', 0, 10), put(2, 'c', 'c1', 0, 10),
    get(3, 'a', 'a1', 20, 30), get(4, 'b', null, 20, 30), get(5, 'c', 'c1', 20, 30),
    put(0, 'a', 'a2', 40, 50), get(1, 'c', 'c1', 40, 50)
  ]
  const result = checkOperations(kvModel, history)
  if (result.result !== 'illegal') return t.fail(`expected illegal, got ${result.result}`)
  t.is(result.partition, 1, 'partitions come in first-seen key order: a, b, c')
  t.true(result.operations.every(op => op.input.key === 'b'))
  t.is(result.operations.length, 2)
  t.deepEqual(result.longestLinearization.map(op => op.input), [{ op: 'put', key: 'b', value: 'b1' }], 'the get of null cannot follow it')
  t.is(check(history.filter(op => op.input.key !== 'b')), 'ok')
})

test('a model without partitions, and malformed operations', t => {
  // A counter that can only be incremented: reads must never decrease.
  const counter: Model<number, 'inc' | 'read', number> = {
    init: () => 0,
    step: (state, input, output) => input === 'inc' ? [true, state + 1] : [output === undefined || output === state, state],
    key: state => String(state)
  }
  const op = (input: 'inc' | 'read', output: number, call: number, ret: number): Operation<'inc' | 'read', number> => ({ client: 0, input, output, call, ret })
  t.is(checkOperations(counter, [op('inc', 0, 0, 10), op('inc', 0, 0, 10), op('read', 1, 5, 15), op('read', 2, 16, 20)]).result, 'ok')
  t.is(checkOperations(counter, [op('inc', 0, 0, 10), op('inc', 0, 0, 10), op('read', 2, 5, 15), op('read', 1, 16, 20)]).result, 'illegal')
  t.is(checkOperations(counter, []).result, 'ok')
  t.throws(() => checkOperations(counter, [op('inc', 0, 10, 5)]), { name: 'AssertionError' })
  t.throws(() => checkOperations(counter, [op('inc', 0, U, U)]), { name: 'AssertionError' })
})

test('a search that outlives its budget says unknown', t => {
  // 24 concurrent writes then a read of a value none wrote: the search must try every subset.
  const history = Array.from({ length: 24 }, (_, i) => put(i, 'x', `v${i}`, 0, 100))
  history.push(get(99, 'x', 'never', 200, 300))
  const startMs = performance.now()
  const result = checkOperations(kvModel, history, { timeoutMs: 200 })
  t.is(result.result, 'unknown')
  t.true(performance.now() - startMs < 2_000)
})

/** Linearizability by definition: every real-time-respecting order of every subset of unknown outcomes. */
function bruteForce<S, I, O> (model: Model<S, I, O>, history: Operation<I, O>[]): boolean {
  const search = (state: S, remaining: Operation<I, O>[]): boolean => {
    if (remaining.every(op => op.ret === Infinity)) return true
    return remaining.some((op, index) => {
      // Anything still to come that returned before this call must precede it (equal times overlap).
      if (remaining.some(other => other.ret < op.call)) return false
      const [isLegal, next] = model.step(state, op.input, op.ret === Infinity ? undefined : op.output)
      return isLegal && search(next, remaining.filter((_, j) => j !== index))
    })
  }
  return search(model.init(), history)
}

test('agrees with the definition on many small random histories, unknown outcomes and repeated values included', t => {
  const rng = new SeededRng(42)
  const pick = <T>(items: readonly T[]): T => items[randomInt(rng, 0, items.length)] as T
  const values = ['a', 'b', 'c'] as const
  const verdicts = { ok: 0, illegal: 0 }
  for (let round = 0; round < 1_500; round++) {
    const history: KvOp[] = []
    const size = randomInt(rng, 1, 8)
    for (let n = 0; n < size; n++) {
      const key = pick(['x', 'y'])
      const call = randomInt(rng, 0, 12)
      const ret = randomInt(rng, 0, 5) === 0 ? Infinity : call + randomInt(rng, 0, 6)
      const roll = randomInt(rng, 0, 3)
      const input: KvInput = roll === 0 ? { op: 'put', key, value: pick(values) } : roll === 1 ? { op: 'get', key } : { op: 'cas', key, expected: pick([null, ...values]), value: pick(values) }
      const output: KvOutput = input.op === 'put' ? { ok: true } : input.op === 'get' ? { ok: true, value: pick([null, ...values]) } : { ok: randomInt(rng, 0, 2) === 0 }
      history.push({ client: n, input, output, call, ret })
    }
    // kvModel's state is one register, so the definition is applied key by key (locality).
    const expected = ['x', 'y'].every(key => bruteForce(kvModel, history.filter(op => op.input.key === key))) ? 'ok' : 'illegal'
    const actual = checkOperations(kvModel, history, { timeoutMs: 5_000, seed: round }).result
    if (actual !== expected) return t.fail(`round ${round}: ${actual} instead of ${expected} for ${JSON.stringify(history)}`)
    verdicts[expected]++
  }
  t.log(verdicts)
  t.true(verdicts.ok > 200 && verdicts.illegal > 200, 'both verdicts are exercised')
})

interface Generated { history: KvOp[], stats: { puts: number, gets: number, cas: number, unknown: number } }

/**
 * A linearizable history: closed-loop clients with random overlapping intervals against an atomic
 * store, each operation taking effect at a random instant inside its interval. Some writes time
 * out: they take effect later or never, and the client moves on.
 */
function generateHistory (seed: number, opCount: number, clientCount: number, keyCount: number, casPercent: number): Generated {
  const rng = new SeededRng(seed)
  const chance = (percent: number): boolean => randomInt(rng, 0, 100) < percent
  interface Planned { op: KvOp, effectAt: number }
  const planned: Planned[] = []
  const clientFreeAt = new Array<number>(clientCount).fill(0)
  for (let n = 0; n < opCount; n++) {
    const client = n % clientCount
    const call = (clientFreeAt[client] ?? 0) + randomInt(rng, 0, 5)
    const ret = call + randomInt(rng, 1, 40)
    clientFreeAt[client] = ret
    const key = `k${randomInt(rng, 0, keyCount)}`
    const roll = randomInt(rng, 0, 100)
    const input: KvInput = roll < casPercent ? { op: 'cas', key, expected: null, value: `v${n}` } : roll < casPercent + (100 - casPercent) / 2 ? { op: 'put', key, value: `v${n}` } : { op: 'get', key }
    const isUnknown = input.op !== 'get' && chance(3)
    const effectAt = isUnknown ? (chance(30) ? Infinity : call + randomInt(rng, 0, 400)) : call + randomInt(rng, 0, ret - call + 1)
    planned.push({ op: { client, input, output: { ok: true }, call, ret: isUnknown ? Infinity : ret }, effectAt })
  }
  // Apply in effect order; ties are fine as any order of equal instants is a linearization.
  const store = new Map<string, string>()
  const written = new Map<string, string[]>()
  for (const { op, effectAt } of [...planned].sort((a, b) => a.effectAt - b.effectAt)) {
    const { input } = op
    const current = store.get(input.key) ?? null
    if (input.op === 'get') {
      op.output = { ok: true, value: current }
      continue
    }
    if (input.op === 'cas') {
      // Half the time expect what is there, else something from this key's past (or absence).
      const past = written.get(input.key) ?? []
      input.expected = chance(50) ? current : past.length > 0 && chance(80) ? (past[randomInt(rng, 0, past.length)] ?? null) : null
      if (effectAt === Infinity || input.expected !== current) {
        op.output = { ok: false }
        continue
      }
      op.output = { ok: true }
    }
    if (effectAt === Infinity) continue
    store.set(input.key, input.value)
    written.set(input.key, [...(written.get(input.key) ?? []), input.value])
  }
  const history = planned.map(p => p.op)
  const count = (op: KvInput['op']): number => history.filter(o => o.input.op === op).length
  return { history, stats: { puts: count('put'), gets: count('get'), cas: count('cas'), unknown: history.filter(o => o.ret === Infinity).length } }
}

test('a large random linearizable history checks ok within seconds, and a stale read in it is caught', t => {
  const seed = 20240601
  const { history, stats } = generateHistory(seed, 5_000, 10, 5, 25)
  t.log(`seed ${seed}:`, stats)
  t.true(stats.unknown > 50 && stats.cas > 500)

  let startMs = performance.now()
  const good = checkOperations(kvModel, history, { timeoutMs: 20_000 })
  const goodMs = performance.now() - startMs
  t.log(`linearizable history checked in ${goodMs.toFixed(0)} ms`)
  t.is(good.result, 'ok', `seed ${seed}`)
  t.true(goodMs < 5_000, `took ${goodMs} ms`)

  // A late read gets a value whose successor write completed long before the read was called.
  const completedWrites = history.filter(op => op.ret !== Infinity && op.output.ok && op.input.op !== 'get')
  const lateRead = [...history].reverse().find(op => op.input.op === 'get' && op.ret !== Infinity)
  if (lateRead === undefined) return t.fail('no read')
  const sameKey = completedWrites.filter(op => op.input.key === lateRead.input.key)
  const old = sameKey.find(w => sameKey.some(later => later.call > w.ret && later.ret + 1_000 < lateRead.call))
  if (old === undefined || old.input.op === 'get') return t.fail('no overwritten value')
  const staleValue = old.input.value
  const bad = history.map(op => op === lateRead ? { ...op, output: { ok: true, value: staleValue } } : op)
  startMs = performance.now()
  const verdict = checkOperations(kvModel, bad, { timeoutMs: 20_000 })
  const badMs = performance.now() - startMs
  t.log(`stale read of ${staleValue} caught in ${badMs.toFixed(0)} ms`)
  if (verdict.result !== 'illegal') return t.fail(`expected illegal, got ${verdict.result}`)
  t.true(verdict.operations.includes(bad.find(op => op.client === lateRead.client && op.call === lateRead.call) as KvOp))
  t.true(badMs < 5_000, `took ${badMs} ms`)
})

test('a large random history of puts and gets only, where unobserved unknown puts are pruned, is ok', t => {
  const seed = 7
  const { history, stats } = generateHistory(seed, 5_000, 10, 5, 0)
  t.is(stats.cas, 0)
  const startMs = performance.now()
  t.is(checkOperations(kvModel, history, { timeoutMs: 20_000 }).result, 'ok', `seed ${seed}`)
  t.log(`checked in ${(performance.now() - startMs).toFixed(0)} ms`)
})
