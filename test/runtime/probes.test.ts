// Health probes against real sockets and real shells. Every command probe carries a marker in its
// environment, so the test finds the processes it started in /proc and checks that none is left.
import { readdirSync, readFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import test, { type ExecutionContext } from 'ava'
import { maxReasonLineChars, probeCommand, probeTcp, type ProbeResult } from '../../src/runtime/health/probes.js'
import { killQuietly } from '../../src/runtime/process/kill-quietly.js'
import { identityFromStat, isSameProcess, type ProcessIdentity } from '../../src/runtime/process/proc-stat.js'
import { freePort } from '../helpers/free-port.js'
import { tempDir } from '../helpers/temp-dir.js'

const markerVariable = 'GALAXY_PROBE_TEST'
let sequence = 0

/**
 * The live processes whose environment holds the marker `value` (a zombie's environment reads
 * empty). Read synchronously, like `identityNow`, so that a scan and the identities of what it
 * found take one turn of the event loop, well inside a probe's 300 ms on a busy machine.
 */
function markedPids (value: string): number[] {
  const wanted = `${markerVariable}=${value}`
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    if (environOf(name).split('\0').includes(wanted)) pids.push(Number(name))
  }
  return pids
}

function environOf (pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1')
  } catch {
    return ''
  }
}

/**
 * `processIdentity`, read at once: found by a scan, a probe's process is read in the same turn,
 * before the probe's timeout can kill it (on a busy machine an asynchronous read came too late).
 */
function identityNow (pid: number): ProcessIdentity | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  return identityFromStat(pid, text)
}

/**
 * The most a probe may take to answer in the tests whose commands would run 30 s: a sixth of that,
 * so an answer within it shows the probe did not wait for the command. (Not a speed target: on a
 * CI machine loaded by the other test files a 300 ms timeout was answered in 1,057 ms.)
 */
const cutShortMs = 5_000

/** Polls `check` every 10 ms until it answers true; fails after `timeoutMs`. */
async function pollUntil (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** Options for a command probe in a fresh dir, with a marker this test's processes carry; they are killed when the test ends. */
function commandOptions (t: ExecutionContext, timeoutMs = 5000): { cwd: string, env: Record<string, string>, timeoutMs: number, marker: string } {
  const marker = `${process.pid}-${++sequence}`
  t.teardown(() => { for (const pid of markedPids(marker)) killQuietly(pid) })
  return { cwd: tempDir(t), env: { PATH: process.env.PATH ?? '/usr/bin:/bin', [markerVariable]: marker }, timeoutMs, marker }
}

/**
 * Runs a command probe while watching /proc for its processes: answers the result, how long it
 * took, and the identities of the marked processes seen while it ran (at least `expectedCount`,
 * or the watch would prove nothing).
 */
async function probeWatched (t: ExecutionContext, command: string, options: ReturnType<typeof commandOptions>, expectedCount: number): Promise<{ result: ProbeResult, elapsedMs: number, seen: ProcessIdentity[] }> {
  const startMs = performance.now()
  const probe = probeCommand(command, options)
  let done = false
  void probe.finally(() => { done = true })
  const seen = new Map<number, ProcessIdentity>()
  while (!done && seen.size < expectedCount) {
    for (const pid of markedPids(options.marker)) {
      if (seen.has(pid)) continue
      const identity = identityNow(pid)
      if (identity !== undefined) seen.set(pid, identity)
    }
    // Let the probe's own events (its timeout among them) run between scans.
    await new Promise(resolve => setImmediate(resolve))
  }
  const result = await probe
  const elapsedMs = performance.now() - startMs
  t.true(seen.size >= expectedCount, `saw ${seen.size} of ${expectedCount} processes while the probe ran`)
  return { result, elapsedMs, seen: [...seen.values()] }
}

/** Waits until none of `identities`, nor any process with the marker, runs (a zombie counts as gone). */
async function assertAllGone (t: ExecutionContext, identities: readonly ProcessIdentity[], marker: string): Promise<void> {
  await pollUntil('the probe\'s processes to be gone', async () => {
    for (const identity of identities) if (await isSameProcess(identity)) return false
    return markedPids(marker).length === 0
  }, 2000)
  t.pass()
}

function reasonOf (result: ProbeResult): string {
  return result.healthy ? '' : result.reason
}

test('a TCP probe of a listening server is healthy, and closes its connection', async t => {
  const server = createServer()
  t.teardown(() => { server.close() })
  const accepted = new Promise<Socket>(resolve => server.once('connection', resolve))
  await new Promise<void>(resolve => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
  const { port } = server.address() as AddressInfo
  t.deepEqual(await probeTcp({ host: '127.0.0.1', port }, 1000), { healthy: true })
  const socket = await accepted
  await new Promise(resolve => { if (socket.closed) resolve(undefined); else socket.once('close', resolve).resume() })
  t.pass()
})

test('a TCP probe of a closed port is unhealthy: connection refused', async t => {
  const port = await freePort()
  const result = await probeTcp({ host: '127.0.0.1', port }, 1000)
  t.false(result.healthy)
  t.is(reasonOf(result), `tcp 127.0.0.1:${port}: connection refused`)
})

// (No unknown host name: its lookup would ask a resolver off this machine.)
test('a TCP probe of an impossible port is unhealthy and does not throw', async t => {
  const outOfRange = await probeTcp({ host: '127.0.0.1', port: 70000 }, 1000)
  t.false(outOfRange.healthy)
  t.regex(reasonOf(outOfRange), /^tcp 127\.0\.0\.1:70000: .*65536/)
})

test('a command probe that exits 0 is healthy', async t => {
  t.deepEqual(await probeCommand('exit 0', commandOptions(t)), { healthy: true })
})

test('a command probe runs in cwd with exactly the env given', async t => {
  const options = commandOptions(t)
  const command = `test "$(pwd)" = '${options.cwd}' && test "$${markerVariable}" = '${options.marker}' && test -z "$HOME"`
  t.deepEqual(await probeCommand(command, options), { healthy: true })
})

test('a command probe that exits 3 is unhealthy, naming the code and its output\'s last line', async t => {
  t.deepEqual(await probeCommand('echo broken; exit 3', commandOptions(t)), { healthy: false, reason: 'exit 3: broken' })
  t.deepEqual(await probeCommand('echo first; echo last >&2; exit 1', commandOptions(t)), { healthy: false, reason: 'exit 1: last' }, 'stderr counts')
  t.deepEqual(await probeCommand('exit 2', commandOptions(t)), { healthy: false, reason: 'exit 2, no output' })
})

test('a command probe\'s reason quotes at most 200 chars of the last line, after a lot of output', async t => {
  // 1 MiB of output, then a 1000-char line: only the end is kept, and only 200 chars of it quoted.
  const command = 'head -c 1048576 /dev/zero | tr "\\0" "a"; echo; printf "%01000d\\n" 7; exit 1'
  const reason = reasonOf(await probeCommand(command, commandOptions(t)))
  t.true(reason.startsWith('exit 1: 0000'), reason.slice(0, 40))
  t.is(reason.length, 'exit 1: '.length + maxReasonLineChars)
})

test('a command probe killed by a signal is unhealthy, naming the signal', async t => {
  t.deepEqual(await probeCommand('echo going; kill -TERM $$', commandOptions(t)), { healthy: false, reason: 'killed by SIGTERM: going' })
})

test('a command probe in a missing directory is unhealthy, saying so', async t => {
  const options = commandOptions(t)
  const result = await probeCommand('exit 0', { ...options, cwd: `${options.cwd}/missing` })
  t.is(reasonOf(result), `cannot run the probe command: no directory ${options.cwd}/missing`)
})

test('a command probe past its timeout is unhealthy long before the command would end, and its process is killed', async t => {
  const options = commandOptions(t, 300)
  const { result, elapsedMs, seen } = await probeWatched(t, 'sleep 30', options, 1)
  t.deepEqual(result, { healthy: false, reason: 'timed out after 300 ms' })
  t.true(elapsedMs >= 300 && elapsedMs < cutShortMs, `${elapsedMs.toFixed(0)} ms`)
  await assertAllGone(t, seen, options.marker)
})

test('a command probe that forks a background sleeper and then hangs is killed entirely', async t => {
  const options = commandOptions(t, 300)
  // sh, the background sleep and the foreground sleep: three processes.
  const { result, elapsedMs, seen } = await probeWatched(t, 'sleep 30 & sleep 31; echo never', options, 3)
  t.deepEqual(result, { healthy: false, reason: 'timed out after 300 ms' })
  t.true(elapsedMs < cutShortMs, `${elapsedMs.toFixed(0)} ms`)
  await assertAllGone(t, seen, options.marker)
})

test('a command probe that exits leaving a background process answers at once, and that process is killed', async t => {
  const options = commandOptions(t)
  const startMs = performance.now()
  const result = await probeCommand('sleep 30 & exit 0', options)
  t.deepEqual(result, { healthy: true })
  t.true(performance.now() - startMs < cutShortMs, 'the sleeper holds the output pipe, but the probe does not wait for it')
  await assertAllGone(t, [], options.marker)
})
