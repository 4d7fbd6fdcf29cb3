import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import test from 'ava'
import { tempDir } from '../helpers/temp-dir.js'
import { findBoundaryViolations } from './boundaries.js'
import { repoRoot } from './repo.js'

test('src keeps every import boundary of STYLE.md', async t => {
  t.deepEqual(await findBoundaryViolations(repoRoot), [])
})

test('the boundary check fails on a forbidden import', async t => {
  const dir = tempDir(t)
  copyFileSync(join(repoRoot, 'tsconfig.json'), join(dir, 'tsconfig.json'))
  const files: Record<string, string> = {
    'src/lib/clock.ts': "import { wire } from '../node/wire.js'\nexport const clock = wire\n",
    'src/node/wire.ts': 'export const wire = 1\n',
    'src/roles/agent/reconcile.ts': "import { step } from '../../raft/step.js'\nexport const reconcile = step\n",
    'src/raft/step.ts': "import { readFileSync } from 'node:fs'\nexport const step = readFileSync\n",
    'src/cli/main.ts': "import { wire } from '../node/wire.js'\nexport const main = wire\n",
    'src/cli/spawn.ts': "import { spawn } from 'node:child_process'\nimport { now } from '../runtime/clock.js'\nexport const run = [spawn, now]\n",
    'src/runtime/clock.ts': 'export const now = 1\n'
  }
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  const violations = await findBoundaryViolations(dir)
  t.deepEqual(violations.map(v => `${v.rule}: ${v.from} → ${v.to}`).sort(), [
    'cli-runtime-only-host-probes: src/cli/spawn.ts → src/runtime/clock.ts',
    'host-builtins-only-in-runtime-and-node: src/cli/spawn.ts → child_process',
    'host-builtins-only-in-runtime-and-node: src/raft/step.ts → fs',
    'lib-imports-nothing-of-ours: src/lib/clock.ts → src/node/wire.ts',
    'pure-cores-no-node-builtins: src/raft/step.ts → fs',
    'roles-only-lib: src/roles/agent/reconcile.ts → src/raft/step.ts'
  ])
})
