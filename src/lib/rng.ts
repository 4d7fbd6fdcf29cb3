import { assert } from './assert.js'

/**
 * Randomness as galaxy's code sees it: injected, so a seeded run replays exactly. Production uses
 * `runtime/system-rng`; tests and simulations use `SeededRng`.
 */
export interface Rng {
  /** A uniform integer in [0, 2^32). */
  uint32(): number
}

/** A uniform float in [0, 1). */
export function randomFloat (rng: Rng): number {
  return rng.uint32() / 2 ** 32
}

/** A uniform integer in [minInclusive, maxExclusive), without modulo bias. */
export function randomInt (rng: Rng, minInclusive: number, maxExclusive: number): number {
  assert(Number.isSafeInteger(minInclusive) && Number.isSafeInteger(maxExclusive), 'bounds must be integers', { minInclusive, maxExclusive })
  const span = maxExclusive - minInclusive
  assert(span > 0 && span <= 2 ** 32, 'range must hold between 1 and 2^32 values', { minInclusive, maxExclusive })
  // Reject the top sliver of the 32-bit range that would make low values more likely.
  const limit = 2 ** 32 - (2 ** 32 % span)
  for (;;) {
    const value = rng.uint32()
    if (value < limit) return minInclusive + (value % span)
  }
}

/** A new array with `items` in random order (Fisher–Yates); `items` is left as it was. */
export function shuffled<T> (rng: Rng, items: readonly T[]): T[] {
  const result = items.slice()
  for (let i = result.length - 1; i > 0; i--) {
    const j = randomInt(rng, 0, i + 1)
    const held = result[i] as T
    result[i] = result[j] as T
    result[j] = held
  }
  return result
}

/**
 * xoshiro128** (Blackman and Vigna), seeded through splitmix32 so that nearby seeds give
 * unrelated streams. Same seed, same sequence, on every platform; all 53 bits of a seed count.
 */
export class SeededRng implements Rng {
  private readonly state: Uint32Array

  constructor (readonly seed: number) {
    assert(Number.isSafeInteger(seed) && seed >= 0, 'seed must be a non-negative safe integer', { seed })
    // Both halves of the seed reach every word of the state: xoshiro's first output depends on
    // one word alone, so a word fed by only one half would repeat across seeds.
    const low = splitmix32(seed >>> 0)
    const high = splitmix32(Math.floor(seed / 2 ** 32) ^ 0x5bd1e995)
    this.state = Uint32Array.of(low() ^ high(), low() ^ high(), low() ^ high(), low() ^ high())
  }

  uint32 (): number {
    const s = this.state
    const result = Math.imul(rotl(Math.imul(s[1] as number, 5), 7), 9) >>> 0
    const t = (s[1] as number) << 9
    s[2] = (s[2] as number) ^ (s[0] as number)
    s[3] = (s[3] as number) ^ (s[1] as number)
    s[1] = (s[1] as number) ^ (s[2] as number)
    s[0] = (s[0] as number) ^ (s[3] as number)
    s[2] = (s[2] as number) ^ t
    s[3] = rotl(s[3] as number, 11)
    return result
  }
}

/** A splitmix32 sequence from `seed`: each output is a bijective scramble of an advancing counter. */
function splitmix32 (seed: number): () => number {
  let mix = seed >>> 0
  return () => {
    mix = (mix + 0x9e3779b9) >>> 0
    let z = mix
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

function rotl (x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}
