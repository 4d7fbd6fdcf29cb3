// The simulator from the command line:
//   npm run sim -- --seed 42            replay one seed (prints its statistics)
//   npm run sim -- --seeds 20000        seeds 1..20000 (a soak), stopping at the first violation
//   options: --voters 3|5 (default: alternate by seed), --from N (first seed), --fault-ms, --settle-ms
import { parseArgs } from 'node:util'
import { runSeed } from './runner.js'

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string' },
    from: { type: 'string', default: '1' },
    voters: { type: 'string' },
    'fault-ms': { type: 'string' },
    'settle-ms': { type: 'string' }
  }
})
const overrides = {
  ...(values.voters !== undefined ? { voters: Number(values.voters) } : {}),
  ...(values['fault-ms'] !== undefined ? { faultMs: Number(values['fault-ms']) } : {}),
  ...(values['settle-ms'] !== undefined ? { settleMs: Number(values['settle-ms']) } : {})
}

if (values.seed !== undefined) {
  const result = runSeed(Number(values.seed), overrides)
  console.log(JSON.stringify(result, null, 2))
  process.exitCode = result.violations.length === 0 ? 0 : 1
} else {
  const count = Number(values.seeds ?? '100')
  const from = Number(values.from)
  const started = Date.now()
  const totals: Record<string, number> = {}
  let failed = 0
  for (let seed = from; seed < from + count; seed++) {
    const result = runSeed(seed, overrides)
    for (const [key, value] of Object.entries(result.stats)) totals[key] = (totals[key] ?? 0) + value
    if (result.violations.length > 0) {
      failed++
      console.log(`seed ${seed}: ${result.violations.map(v => `${v.property} at ${v.atMs} ms: ${v.detail}`).join('; ')}`)
      console.log(`replay: npm run sim -- --seed ${seed}${values.voters !== undefined ? ` --voters ${values.voters}` : ''}`)
      break
    }
    if ((seed - from + 1) % 1000 === 0) console.log(`${seed - from + 1} seeds, ${((Date.now() - started) / 1000).toFixed(0)} s, no violation`)
  }
  console.log(`${count} seeds from ${from}: ${failed === 0 ? 'no violations' : 'VIOLATION'} in ${((Date.now() - started) / 1000).toFixed(1)} s; totals ${JSON.stringify(totals)}`)
  process.exitCode = failed === 0 ? 0 : 1
}
