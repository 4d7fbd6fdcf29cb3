import { Simulation, type SimOptions, type SimResult } from './simulation.js'

/** The run a seed stands for: odd seeds start 3 voters, even seeds 5, unless overridden. */
export function runSeed (seed: number, overrides: Partial<Omit<SimOptions, 'seed'>> = {}): SimResult {
  return new Simulation({ seed, voters: seed % 2 === 1 ? 3 : 5, faultMs: 4000, settleMs: 3000, ...overrides }).run()
}
