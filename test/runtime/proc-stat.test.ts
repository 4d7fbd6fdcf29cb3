// Process identity from /proc/<pid>/stat: the pure parse on hand-written lines, then real child
// processes, each killed when its test ends.
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { isSameProcess, parseProcStat, processIdentity } from '../../src/runtime/process/proc-stat.js'
import { killQuietly } from '../../src/runtime/process/kill-quietly.js'
import { tempDir } from '../helpers/temp-dir.js'

// A real line (from `cat /proc/self/stat`), with the fields after starttime cut.
const catLine = '21692 (cat) R 21690 21690 19947 0 -1 4194304 96 0 0 0 0 0 0 0 20 0 1 0 1372512 3133440 359 18446744073709551615 0\n'

/** The stat line of a process named `comm` in `state`, with distinct numbers in the fields read. */
function statLine (comm: string, state: string): string {
  return `4321 (${comm}) ${state} 17 4300 4300 0 -1 4194560 120 0 0 0 1 0 0 0 20 0 1 0 987654 8192000 200 18446744073709551615 0`
}

/** Polls `check` every 10 ms until it answers true; fails after `timeoutMs`. */
async function pollUntil (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** Starts `file args`, killed when the test ends; resolves once it has exec'd. */
async function start (t: ExecutionContext, file: string, args: string[], stdout: 'ignore' | 'pipe' = 'ignore'): Promise<ChildProcess & { pid: number }> {
  const child = spawn(file, args, { stdio: ['ignore', stdout, 'ignore'] })
  t.teardown(() => { if (child.pid !== undefined) killQuietly(child.pid) })
  await new Promise<void>((resolve, reject) => { child.once('spawn', resolve).once('error', reject) })
  return child as ChildProcess & { pid: number }
}

test('parseProcStat reads state, parent, group and start ticks from a real line', t => {
  t.deepEqual(parseProcStat(catLine), { state: 'R', ppid: 21690, pgid: 21690, startTicks: 1372512 })
})

test('parseProcStat splits at the last parenthesis when comm holds ") ("', t => {
  t.deepEqual(parseProcStat(statLine('a) (b', 'S')), { state: 'S', ppid: 17, pgid: 4300, startTicks: 987654 })
  t.deepEqual(parseProcStat(statLine(') S 1 2 3 (', 'D')), { state: 'D', ppid: 17, pgid: 4300, startTicks: 987654 })
  t.deepEqual(parseProcStat(statLine('x y', 'T')), { state: 'T', ppid: 17, pgid: 4300, startTicks: 987654 })
})

test('parseProcStat reads a zombie\'s state', t => {
  t.is(parseProcStat(statLine('defunct', 'Z'))?.state, 'Z')
})

test('parseProcStat answers undefined for text that is not a stat line', t => {
  t.is(parseProcStat(''), undefined)
  t.is(parseProcStat('not a stat line'), undefined)
  t.is(parseProcStat('12 (sh) S 1 12'), undefined, 'cut before the start time')
  t.is(parseProcStat('x (sh) S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0'), undefined, 'no pid')
  t.is(parseProcStat('12 (sh) S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 soon 0 0'), undefined, 'a start time that is no number')
})

test('a running program named "a) (b" has its real /proc stat parsed, and an identity', async t => {
  const dir = join(tempDir(t), 'x')
  mkdirSync(dir)
  const program = join(dir, 'a) (b')
  copyFileSync('/usr/bin/sleep', program)
  const child = await start(t, program, ['30'])
  const text = readFileSync(`/proc/${child.pid}/stat`, 'utf8')
  t.true(text.includes('(a) (b)'), text)
  const stat = parseProcStat(text)
  t.is(stat?.ppid, process.pid)
  t.true(stat?.state === 'S' || stat?.state === 'R', `state ${stat?.state}`)
  const identity = await processIdentity(child.pid)
  t.deepEqual(identity, { pid: child.pid, startTicks: stat?.startTicks })
})

test('a child\'s identity matches while it runs and is gone once it exits and is reaped', async t => {
  const child = await start(t, 'sleep', ['30'])
  const identity = await processIdentity(child.pid)
  if (identity === undefined) return t.fail('no identity for a running child')
  t.true(identity.startTicks > 0)
  t.true(await isSameProcess(identity))
  t.deepEqual(await processIdentity(child.pid), identity, 'the same answer when asked again')
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited // node has reaped it: the pid is free
  t.is(await processIdentity(child.pid), undefined)
  t.false(await isSameProcess(identity))
})

test('an identity with the right pid but another start time is not the same process', async t => {
  const child = await start(t, 'sleep', ['30'])
  const identity = await processIdentity(child.pid)
  if (identity === undefined) return t.fail('no identity for a running child')
  t.true(await isSameProcess(identity))
  t.false(await isSameProcess({ pid: child.pid, startTicks: identity.startTicks - 1 }))
  t.false(await isSameProcess({ pid: child.pid, startTicks: identity.startTicks + 1 }))
})

test('a zombie counts as gone', async t => {
  // The background child exits once its parent has exec'd sleep, which never reaps it. (A child
  // that ended while the parent was still the shell could be reaped by the shell: under load a
  // background `true` sometimes was, and never became a zombie.)
  const parent = await start(t, 'sh', ['-c', 'sleep 0.5 & echo $!; exec sleep 30'], 'pipe')
  const line = await new Promise<string>(resolve => parent.stdout?.once('data', (chunk: Buffer) => { resolve(chunk.toString()) }))
  const pid = Number(line.trim())
  t.true(Number.isSafeInteger(pid) && pid > 0, line)
  const stat = (): ReturnType<typeof parseProcStat> => { try { return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8')) } catch { return undefined } }
  await pollUntil(`${pid} to be a zombie`, () => stat()?.state === 'Z')
  const zombie = stat()
  if (zombie === undefined) return t.fail('the zombie was reaped too early')
  t.is(zombie.ppid, parent.pid)
  t.is(await processIdentity(pid), undefined)
  t.false(await isSameProcess({ pid, startTicks: zombie.startTicks }))
})

test('processIdentity asserts that a pid is a positive integer', async t => {
  await t.throwsAsync(processIdentity(0), { name: 'AssertionError' })
  await t.throwsAsync(processIdentity(1.5), { name: 'AssertionError' })
})
