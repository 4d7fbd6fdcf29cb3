import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import test from 'ava'
import { tempDir } from '../helpers/temp-dir.js'
import { findImpurities } from './purity.js'
import { repoRoot } from './repo.js'

test('pure cores use no clock, randomness, timers or node: imports', t => {
  t.deepEqual(findImpurities(repoRoot), [])
})

test('the purity check fails on time, randomness, timers and host imports in a pure core', t => {
  const dir = tempDir(t)
  const files: Record<string, string> = {
    'src/raft/election.ts': [
      "import { randomInt } from 'node:crypto'",
      "import { EventEmitter } from 'events'",
      'export const timeoutMs = Date.now() + Math.random()',
      'export const started = new Date()',
      'setTimeout(() => {}, 10)',
      '// Date.now() in a comment is fine',
      "export const text = 'Math.random() in a string is fine'",
      'export const given = new Date(0)',
      'export const config = { setTimeout: 1 }'
    ].join('\n'),
    'src/roles/resman/scheduler/rank.ts': 'export const env = process.env.SEED\n',
    'src/runtime/system-clock.ts': 'export const now = Date.now()\n'
  }
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  t.deepEqual(findImpurities(dir).map(found => `${found.file}:${found.line} ${found.what}`), [
    'src/raft/election.ts:1 import of node:crypto',
    'src/raft/election.ts:2 import of events',
    'src/raft/election.ts:3 Date.now',
    'src/raft/election.ts:3 Math.random',
    'src/raft/election.ts:4 new Date()',
    'src/raft/election.ts:5 setTimeout',
    'src/roles/resman/scheduler/rank.ts:1 process'
  ])
})
