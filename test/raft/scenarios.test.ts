import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { parseScenario, runScenario } from './scenario.js'

const dir = join(import.meta.dirname, 'scenarios')

for (const file of readdirSync(dir).filter(name => name.endsWith('.txt')).sort()) {
  test(`scenario ${file}`, t => {
    const blocks = parseScenario(readFileSync(join(dir, file), 'utf8'))
    const outputs = runScenario(blocks)
    blocks.forEach((block, i) => {
      t.is(outputs[i] === '' ? 'ok' : outputs[i], block.expected, `${file}: ${block.command} (regenerate with npm run scenarios -- --rewrite, then review the diff)`)
    })
  })
}
