import test from 'ava'
import { randomFloat, randomInt, SeededRng, shuffled } from '../../src/lib/rng.js'

test('consecutive seeds differ from the very first draw', t => {
  const firsts = new Set(Array.from({ length: 1000 }, (_, seed) => new SeededRng(seed).uint32() % 16))
  t.is(firsts.size, 16)
})

test('the same seed gives the same sequence; another seed another one', t => {
  const draw = (seed: number): number[] => { const rng = new SeededRng(seed); return Array.from({ length: 8 }, () => rng.uint32()) }
  t.deepEqual(draw(42), draw(42))
  t.notDeepEqual(draw(42), draw(43))
})

test('xoshiro128** from a fixed seed is stable across releases', t => {
  const rng = new SeededRng(1)
  // Recorded once: a change here would silently change every seeded simulation and golden plan.
  t.deepEqual(Array.from({ length: 4 }, () => rng.uint32()), [3015154819, 1031303351, 1341426452, 2902597084])
})

test('seeds that differ only above 32 bits give different streams', t => {
  const first = (seed: number): number => new SeededRng(seed).uint32()
  t.not(first(1), first(2 ** 32 + 1))
  t.throws(() => new SeededRng(-1))
})

test('randomInt stays in range and reaches both ends', t => {
  const rng = new SeededRng(7)
  const seen = new Set<number>()
  for (let i = 0; i < 2000; i++) {
    const value = randomInt(rng, -3, 4)
    t.true(value >= -3 && value < 4)
    seen.add(value)
  }
  t.deepEqual([...seen].sort((a, b) => a - b), [-3, -2, -1, 0, 1, 2, 3])
  t.throws(() => randomInt(rng, 5, 5))
})

test('randomFloat is in [0, 1) and roughly uniform', t => {
  const rng = new SeededRng(9)
  let belowHalf = 0
  for (let i = 0; i < 10_000; i++) {
    const value = randomFloat(rng)
    t.true(value >= 0 && value < 1)
    if (value < 0.5) belowHalf++
  }
  t.true(belowHalf > 4_800 && belowHalf < 5_200, `${belowHalf} of 10000 below 0.5`)
})

test('shuffled returns a permutation and leaves its input alone', t => {
  const items = [1, 2, 3, 4, 5, 6]
  const result = shuffled(new SeededRng(3), items)
  t.deepEqual(items, [1, 2, 3, 4, 5, 6])
  t.deepEqual([...result].sort(), items)
  t.deepEqual(result, shuffled(new SeededRng(3), items))
})
