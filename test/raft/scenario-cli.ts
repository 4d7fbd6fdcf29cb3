// Runs the Raft scenario scripts: prints differences, or with --rewrite writes the actual output
// back into the scripts (review the diff before committing).
//   npm run scenarios [-- --rewrite] [-- file.txt ...]
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { formatScenario, parseScenario, runScenario } from './scenario.js'

const dir = join(import.meta.dirname, 'scenarios')
const rewrite = process.argv.includes('--rewrite')
const named = process.argv.slice(2).filter(arg => arg.endsWith('.txt'))
let differing = 0
for (const file of named.length > 0 ? named : readdirSync(dir).filter(name => name.endsWith('.txt')).sort()) {
  const path = join(dir, file)
  const blocks = parseScenario(readFileSync(path, 'utf8'))
  const outputs = runScenario(blocks)
  const updated = formatScenario(blocks, outputs)
  if (updated === readFileSync(path, 'utf8')) continue
  differing++
  if (rewrite) {
    writeFileSync(path, updated)
    console.log(`rewrote ${file}`)
  } else {
    console.log(`${file} differs from its expected output (run with --rewrite to regenerate)`)
  }
}
process.exitCode = differing > 0 && !rewrite ? 1 : 0
