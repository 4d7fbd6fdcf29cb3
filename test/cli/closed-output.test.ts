import { spawn } from 'node:child_process'
import { join } from 'node:path'
import test from 'ava'
import { repoRoot } from '../architecture/repo.js'

test('a reader that went away (galaxy … | head) ends the command quietly, without a stack trace', async t => {
  t.timeout(60_000)
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'job', 'init'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  // Closed before the command writes anything: its first write meets a pipe with no reader (EPIPE).
  child.stdout.destroy()
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const code = await new Promise<number | null>(resolve => { child.once('exit', resolve) })
  t.is(stderr, '')
  t.is(code, 0)
})
