import test from 'ava'
import { runSeed } from './runner.js'

/** The time-bounded batch CI runs; `npm run sim -- --seeds N` runs longer soaks. */
const batchBudgetMs = 100_000
const batchMaxSeeds = 20_000
const batchMinSeeds = 500

test('a batch of seeded runs, 3 and 5 voters, finds no safety or liveness violation', t => {
  t.timeout(batchBudgetMs + 60_000)
  const started = Date.now()
  let seeds = 0
  const totals: Record<string, number> = {}
  for (let seed = 1; seed <= batchMaxSeeds && (seeds < batchMinSeeds || Date.now() - started < batchBudgetMs); seed++) {
    const result = runSeed(seed)
    seeds++
    for (const [key, value] of Object.entries(result.stats)) totals[key] = (totals[key] ?? 0) + value
    if (result.violations.length > 0) {
      t.fail(`seed ${seed}: ${result.violations.map(v => `${v.property}: ${v.detail}`).join('; ')} — replay with npm run sim -- --seed ${seed}`)
      return
    }
  }
  t.log(`${seeds} seeds in ${((Date.now() - started) / 1000).toFixed(0)} s: ${JSON.stringify(totals)}`)
  // The faults really happened: a run without them would prove nothing.
  for (const key of ['crashes', 'pauses', 'partitions', 'snapshotsSent', 'confChanges', 'transfers', 'readsAnswered', 'retries', 'restores', 'leaseExpiries', 'lockGrants', 'goneReports']) t.true((totals[key] ?? 0) > 0, key)
  t.true(seeds >= batchMinSeeds)
})

test('single-voter runs, where a leader commits entries as it appends them, find no violation', t => {
  // The one case where a Ready's committed entries can be in its own write: applying those before
  // the write is durable would lose acknowledged writes in a crash (planted-bugs.test.ts).
  for (let seed = 1; seed <= 200; seed++) {
    const result = runSeed(seed, { voters: 1 })
    if (result.violations.length > 0) {
      t.fail(`seed ${seed}: ${result.violations.map(v => `${v.property}: ${v.detail}`).join('; ')} — replay with npm run sim -- --seed ${seed} --voters 1`)
      return
    }
  }
  t.pass()
})

test('a seed replays exactly', t => {
  t.deepEqual(runSeed(7), runSeed(7))
  t.notDeepEqual(runSeed(7).stats, runSeed(9).stats)
})
