// The container runtime on this host's real cgroups (v1, v2 or both), as root; the tests that need
// cgroups are skipped with a printed reason elsewhere. Each test makes its own containers under a
// temporary dir and destroys them, so no process, cgroup or mount outlives it.
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { rmdir } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import test, { type ExecutionContext } from 'ava'
import type { ContainerId, TaskId } from '../../src/lib/ids.js'
import { silentLogger } from '../../src/lib/logger.js'
import { containerCgroupPath, type ContainerSpec } from '../../src/runtime/container/container-spec.js'
import { ContainerError, ContainerRuntime } from '../../src/runtime/container/container-runtime.js'
import { detectIsolation, type Isolation } from '../../src/runtime/container/isolation.js'
import { mountsUnder } from '../../src/runtime/container/mounts.js'
import { testIf } from '../helpers/host.js'
import { tempDir } from '../helpers/temp-dir.js'

const isolation = await detectIsolation()
const full = isolation.level === 'full'
// Serial: the cpu-quota test measures a share of a core, which the other tests would disturb.
const needsCgroups = testIf(full, `root and cgroups (${isolation.reasons.join('; ')})`, { serial: true })

// A cgroup parent of this test file's own, removed at the end, so that nothing is left in the hierarchies.
const cgroupParent = `galaxy-test-${process.pid}`
test.after.always(async () => {
  for (const placement of isolation.placements) await rmdir(join(placement.root, cgroupParent)).catch(() => undefined)
})

let sequence = 0
const task = (name: string): TaskId => name as TaskId

function newRuntime (t: ExecutionContext, use: Isolation = isolation): ContainerRuntime {
  return new ContainerRuntime({ containersDir: join(tempDir(t), 'containers'), cgroupParent, isolation: use, logger: silentLogger })
}

function specOf (overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return { id: `test-${process.pid}-${++sequence}` as ContainerId, tasks: [{ name: task('main'), limits: {} }], rootLimits: {}, namespaces: [], volumes: [], ports: [], ...overrides }
}

/** Makes a container that the test destroys at its end, whatever happens. */
async function make (t: ExecutionContext, runtime: ContainerRuntime, spec: ContainerSpec): Promise<void> {
  t.teardown(async () => { await runtime.destroy(spec.id, 0, 0) })
  await runtime.create(spec)
}

async function run (runtime: ContainerRuntime, spec: ContainerSpec, name: string, script: string): Promise<ChildProcess & { output: () => string, exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }> }> {
  const child = await runtime.spawn(spec.id, { kind: 'task', task: task(name) }, ['sh', '-c', script], { cwd: runtime.paths(spec.id).workspace, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.once('exit', (code, signal) => { resolve({ code, signal }) }))
  return Object.assign(child, { output: () => output, exited })
}

function alive (pid: number): boolean {
  const status = (() => { try { return readFileSync(`/proc/${pid}/status`, 'utf8') } catch { return '' } })()
  return status !== '' && !/^State:\s+Z/m.test(status)
}

needsCgroups('a task that allocates past its memory limit is OOM-killed, and the cgroup counts it', async t => {
  const runtime = newRuntime(t)
  const spec = specOf({ tasks: [{ name: task('hog'), limits: { memoryBytes: 32 * 1024 * 1024 } }] })
  await make(t, runtime, spec)
  // tail keeps a line in memory until it ends, and /dev/zero has none.
  const child = await run(runtime, spec, 'hog', 'head -c 512m /dev/zero | tail > /dev/null; echo survived')
  const exit = await child.exited
  const usage = await runtime.usage(spec.id, { kind: 'task', task: task('hog') })
  t.true((usage?.oomKills ?? 0) >= 1, `oom kills ${usage?.oomKills}`)
  t.is((await runtime.usage(spec.id))?.oomKills, usage?.oomKills, 'the container counts its tasks\' OOM kills')
  t.true((usage?.memoryPeakBytes ?? 0) <= 33 * 1024 * 1024, `peak ${usage?.memoryPeakBytes}`)
  t.log(`exit ${JSON.stringify(exit)}, peak ${((usage?.memoryPeakBytes ?? 0) / 1048576).toFixed(1)} MiB, oom kills ${usage?.oomKills}`)
})

needsCgroups('a busy loop under a 0.2-cpu quota uses about 20% of a core', async t => {
  const runtime = newRuntime(t)
  const spec = specOf({ tasks: [{ name: task('spin'), limits: { cpuMillicores: 200 } }] })
  await make(t, runtime, spec)
  await run(runtime, spec, 'spin', 'while :; do :; done')
  await sleep(500)
  const leaf = { kind: 'task', task: task('spin') } as const
  const before = await runtime.usage(spec.id, leaf)
  const started = performance.now()
  await sleep(3000)
  const after = await runtime.usage(spec.id, leaf)
  const share = ((after?.cpuUsageNs ?? 0) - (before?.cpuUsageNs ?? 0)) / 1e6 / (performance.now() - started)
  t.log(`measured ${(share * 100).toFixed(1)}% of a core`)
  t.true(share > 0.12 && share < 0.28, `${(share * 100).toFixed(1)}% of a core`)
})

needsCgroups('a fork bomb stops at the pids limit', async t => {
  const runtime = newRuntime(t)
  const spec = specOf({ tasks: [{ name: task('bomb'), limits: { pidsMax: 16 } }] })
  await make(t, runtime, spec)
  await run(runtime, spec, 'bomb', 'i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done; wait')
  await sleep(1500)
  const usage = await runtime.usage(spec.id, { kind: 'task', task: task('bomb') })
  t.true((usage?.pids ?? 0) <= 16, `${usage?.pids} processes`)
  t.true((usage?.pids ?? 0) >= 10, `${usage?.pids} processes: the bomb did start`)
  t.true((usage?.pidsLimitHits ?? 0) > 0, 'forks were refused')
})

needsCgroups('inside a pid namespace, ps sees only the pod', async t => {
  t.true(isolation.namespaces.includes('pid'), 'this host can make pid namespaces')
  const runtime = newRuntime(t)
  const spec = specOf({ namespaces: ['pid', 'mount', 'uts', 'ipc'] })
  await make(t, runtime, spec)
  // ps only once the background child has become `sleep` (until its exec it is a copy of the shell).
  const child = await run(runtime, spec, 'main', 'sleep 30 & while [ "$(cat /proc/$!/comm)" != sleep ]; do :; done; ps -e -o pid=,comm=')
  const exit = await child.exited
  t.deepEqual(exit, { code: 0, signal: null }, child.output())
  const lines = child.output().trim().split('\n').map(line => line.trim().split(/\s+/))
  // The namespace's init (a shell that passes signals on), the task's shell, and what it started.
  t.deepEqual(lines.map(([, comm]) => comm).sort(), ['ps', 'sh', 'sh', 'sleep'], child.output())
  t.true(lines.every(([pid]) => Number(pid) < 10), child.output())
})

needsCgroups('in a pid namespace, SIGTERM reaches a program that has no handler for it', async t => {
  const runtime = newRuntime(t)
  const spec = specOf({ namespaces: ['pid', 'mount'] })
  await make(t, runtime, spec)
  // `exec sleep`: sleep would be the namespace's pid 1 and ignore SIGTERM, but for the init shell.
  const child = await run(runtime, spec, 'main', 'exec sleep 30')
  await new Promise(resolve => setTimeout(resolve, 300))
  const startedMs = performance.now()
  process.kill(-(child.pid ?? 0), 'SIGTERM')
  const exit = await Promise.race([child.exited, new Promise(resolve => setTimeout(() => { resolve('still running') }, 5000))])
  t.notDeepEqual(exit, 'still running')
  t.log(`stopped in ${Math.round(performance.now() - startedMs)} ms: ${JSON.stringify(exit)}`)
})

needsCgroups('processes start inside their cgroup: the first thing a task reads is its own cgroup', async t => {
  const runtime = newRuntime(t)
  const spec = specOf()
  await make(t, runtime, spec)
  const child = await run(runtime, spec, 'main', 'cat /proc/self/cgroup')
  t.is((await child.exited).code, 0)
  const path = containerCgroupPath(cgroupParent, spec.id, { kind: 'task', task: task('main') })
  const lines = child.output().trim().split('\n')
  const placed = isolation.placements.filter(placement => placement.version !== 'missing')
  for (const placement of placed) {
    const line = placement.version === 'v2' ? lines.find(l => l.startsWith('0::')) : lines.find(l => l.split(':')[1]?.split(',').includes(placement.name))
    t.true(line?.endsWith(`/${path}`), `${placement.name}: ${line}`)
  }
})

needsCgroups('destroy leaves no process, cgroup or mount behind, even a process that left its session', async t => {
  const runtime = newRuntime(t)
  const host = tempDir(t)
  writeFileSync(join(host, 'config'), 'v1')
  const spec = specOf({
    tasks: [{ name: task('a'), limits: { memoryBytes: 64 * 1024 * 1024 } }, { name: task('b'), limits: { cpuMillicores: 500 } }],
    volumes: [{ name: 'scratch', kind: 'tmpfs', sizeBytes: 4 * 1024 * 1024 }, { name: 'config', kind: 'host', hostPath: host, readOnly: true }, { name: 'data', kind: 'disk' }]
  })
  await make(t, runtime, spec)
  const paths = runtime.paths(spec.id)
  t.is(readFileSync(join(paths.volumes, 'config', 'config'), 'utf8'), 'v1')
  const write = await run(runtime, spec, 'a', `echo x > ${paths.volumes}/config/new`)
  t.not((await write.exited).code, 0, 'a read-only host volume refuses writes')
  t.deepEqual((await mountsUnder(paths.root)).length, 2)
  await run(runtime, spec, 'a', 'sleep 1000')
  await run(runtime, spec, 'b', 'setsid sh -c "sleep 1000 & sleep 1000" & sleep 1000')
  await sleep(300)
  const pids = await runtime.pids(spec.id)
  t.true(pids.length >= 4, `pids ${pids.join(',')}`)
  await runtime.destroy(spec.id, 0, 0)
  t.deepEqual(pids.filter(alive), [], 'every process is gone')
  for (const placement of isolation.placements) t.false(existsSync(join(placement.root, containerCgroupPath(cgroupParent, spec.id))), `no cgroup left in ${placement.root}`)
  t.deepEqual(await mountsUnder(paths.root), [])
  t.false(existsSync(paths.root))
  t.is(readFileSync(join(host, 'config'), 'utf8'), 'v1', 'the host path is untouched')
  await runtime.destroy(spec.id, 0, 0)
})

needsCgroups('a destroyed container can keep its directory until garbage collection', async t => {
  const runtime = newRuntime(t)
  const spec = specOf()
  await make(t, runtime, spec)
  writeFileSync(join(runtime.paths(spec.id).logs, 'main.log'), 'last words\n')
  await runtime.destroy(spec.id, 60_000, 1_000)
  t.deepEqual(await runtime.list(), [])
  t.true(existsSync(join(runtime.paths(spec.id).logs, 'main.log')))
  t.deepEqual(await runtime.collectGarbage(60_999), [])
  t.deepEqual(await runtime.collectGarbage(61_000), [spec.id])
  t.false(existsSync(runtime.paths(spec.id).root))
  // Made again under the same id while its old directory is kept: it starts afresh and is listed.
  await runtime.create(spec)
  await runtime.destroy(spec.id, 60_000, 1_000)
  await runtime.create(spec)
  t.deepEqual(await runtime.list(), [spec.id])
  t.false(existsSync(join(runtime.paths(spec.id).logs, 'main.log')))
  t.deepEqual(await runtime.collectGarbage(Number.MAX_SAFE_INTEGER), [])
})

test.serial('bad specs and taken ports are refused with a reason, and make nothing', async t => {
  const runtime = newRuntime(t)
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '0.0.0.0', resolve))
  t.teardown(() => { server.close() })
  const port = (server.address() as { port: number }).port
  const taken = specOf({ ports: [{ name: 'http', port }] })
  const error = await t.throwsAsync(runtime.create(taken), { instanceOf: ContainerError })
  t.regex(error?.message ?? '', new RegExp(`port http \\(${port}\\) is not free`))
  t.false(existsSync(runtime.paths(taken.id).root))
  const twice = specOf({ tasks: [{ name: task('a'), limits: {} }, { name: task('a'), limits: {} }] })
  await t.throwsAsync(runtime.create(twice), { message: `container ${twice.id}: task a appears twice` })
  t.throws(() => runtime.paths('..' as ContainerId), { instanceOf: ContainerError })
  await t.throwsAsync(runtime.create(specOf({ id: '../x' as ContainerId })), { instanceOf: ContainerError })
  await t.throwsAsync(runtime.destroy('..' as ContainerId, 0, 0), { instanceOf: ContainerError })
  const relative = specOf({ volumes: [{ name: 'etc', kind: 'host', hostPath: 'etc', readOnly: true }] })
  await t.throwsAsync(runtime.create(relative), { message: `container ${relative.id}: host volume etc needs an absolute path, not "etc"` })
  t.deepEqual(await runtime.list(), [])
})

test.serial('creating the same container twice is a no-op; another spec under the same id is refused', async t => {
  const runtime = newRuntime(t)
  const spec = specOf({ volumes: [{ name: 'data', kind: 'disk' }] })
  await make(t, runtime, spec)
  await runtime.create(spec)
  t.deepEqual(await runtime.list(), [spec.id])
  await t.throwsAsync(runtime.create({ ...spec, volumes: [] }), { message: `container ${spec.id} exists with another spec` })
})

test.serial('on a degraded host, pods are process groups with a memory bound, and destroy still finds every process', async t => {
  const degraded: Isolation = { level: 'degraded', placements: [], namespaces: [], reasons: ['test: no cgroups'] }
  const runtime = newRuntime(t, degraded)
  const spec = specOf({ tasks: [{ name: task('main'), limits: { memoryBytes: 256 * 1024 * 1024 } }], namespaces: ['pid'] })
  await make(t, runtime, spec)
  const limit = await run(runtime, spec, 'main', 'ulimit -v')
  t.is((await limit.exited).code, 0)
  t.is(limit.output().trim(), String(256 * 1024))
  t.is(await runtime.usage(spec.id), undefined)
  await run(runtime, spec, 'main', 'setsid sh -c "sleep 1000 & sleep 1000" & sleep 1000')
  await sleep(300)
  const pids = await runtime.pids(spec.id)
  t.true(pids.length >= 3, `pids ${pids.join(',')}`)
  await runtime.destroy(spec.id, 0, 0)
  t.deepEqual(pids.filter(alive), [])
})

test.serial('a process that cannot join its cgroup never runs its command', async t => {
  const dir = tempDir(t)
  // A "cgroup" whose cgroup.procs is a directory: the wrapper cannot write it.
  const fake: Isolation = { level: 'full', placements: [{ name: 'memory', version: 'v1', root: dir }], namespaces: [], reasons: [] }
  const fakeRuntime = new ContainerRuntime({ containersDir: join(dir, 'containers'), cgroupParent, isolation: fake, logger: silentLogger })
  const spec = specOf()
  await fakeRuntime.create(spec)
  mkdirSync(join(dir, containerCgroupPath(cgroupParent, spec.id, { kind: 'task', task: task('main') }), 'cgroup.procs'), { recursive: true })
  const marker = join(dir, 'ran')
  const child = await run(fakeRuntime, spec, 'main', `touch ${marker}`)
  t.is((await child.exited).code, 125)
  t.regex(child.output(), /galaxy: cannot join cgroup/)
  t.false(existsSync(marker))
})
