import { getRandomValues } from 'node:crypto'
import type { Rng } from '../lib/rng.js'

/** How many 32-bit values `SystemRng` draws from the kernel at once. */
const bufferedValues = 256

/** Randomness from the operating system's CSPRNG, drawn in batches. */
export class SystemRng implements Rng {
  private readonly buffer = new Uint32Array(bufferedValues)
  private next = bufferedValues

  uint32 (): number {
    if (this.next === bufferedValues) {
      getRandomValues(this.buffer)
      this.next = 0
    }
    return this.buffer[this.next++] as number
  }
}
