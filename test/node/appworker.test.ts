// `galaxy appworker` as the root process of a real container (cgroups, as root), driven through
// its Unix socket by a fake node that answers its pulls, the way the agent will relay the job's
// AppMaster. Packages come from a real HTTP server on 127.0.0.1.
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync, rmSync, existsSync, openSync, closeSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { rmdir } from 'node:fs/promises'
import test, { type ExecutionContext } from 'ava'
import * as tar from 'tar'
import type { ContainerId, TaskId } from '../../src/lib/ids.js'
import { silentLogger } from '../../src/lib/logger.js'
import { pullSocketName, PullSocketServer } from '../../src/node/appworker/pull-socket.js'
import type { PodDescription, TaskDescription } from '../../src/roles/appworker/pod-description.js'
import type { PodCommand, PodStatus, TaskStatus } from '../../src/roles/appworker/pod-status.js'
import { ContainerRuntime } from '../../src/runtime/container/container-runtime.js'
import type { ContainerSpec } from '../../src/runtime/container/container-spec.js'
import { detectIsolation } from '../../src/runtime/container/isolation.js'
import { processIdentity } from '../../src/runtime/process/proc-stat.js'
import { freePort } from '../helpers/free-port.js'
import { testIf } from '../helpers/host.js'
import { tempDir } from '../helpers/temp-dir.js'

const isolation = await detectIsolation()
const needsCgroups = testIf(isolation.level === 'full', `root and cgroups (${isolation.reasons.join('; ')})`)
const cgroupParent = `galaxy-test-${process.pid}`
test.after.always(async () => {
  for (const placement of isolation.placements) await rmdir(join(placement.root, cgroupParent)).catch(() => undefined)
})
const repoRoot = new URL('../../', import.meta.url).pathname
const node = process.execPath

/** A fake node: answers every pull with `command`, keeps the last status. */
interface FakeNode {
  command: PodCommand
  status: PodStatus | undefined
  pulls: number
}

/** A web server task: listens on GALAXY_PORT_HTTP, writes its environment to env.json, and a version file. */
const serverScript = `
const http = require('node:http'); const fs = require('node:fs')
fs.writeFileSync('env.json', JSON.stringify(process.env))
http.createServer((q, s) => s.end(fs.readFileSync('version', 'utf8'))).listen(Number(process.env.GALAXY_PORT_HTTP), '127.0.0.1')
`

interface Harness {
  readonly runtime: ContainerRuntime
  readonly spec: ContainerSpec
  readonly fake: FakeNode
  readonly packages: string
  readonly baseUrl: string
  readonly root: string
  readonly port: number
  startAppWorker: () => Promise<number>
  waitTask: (name: string, check: (task: TaskStatus) => boolean, what: string, timeoutMs?: number) => Promise<TaskStatus>
}

async function harness (t: ExecutionContext): Promise<Harness> {
  const dir = tempDir(t)
  const runtime = new ContainerRuntime({ containersDir: join(dir, 'c'), cgroupParent, isolation, logger: silentLogger })
  const port = await freePort()
  const spec: ContainerSpec = {
    id: `aw-${process.pid}-${Math.floor(Math.random() * 1e6)}` as ContainerId,
    tasks: [{ name: 'web' as TaskId, limits: { memoryBytes: 512 * 1024 * 1024 } }, { name: 'worker' as TaskId, limits: {} }],
    rootLimits: {},
    namespaces: [],
    volumes: [],
    ports: [{ name: 'http', port }]
  }
  t.teardown(async () => { await runtime.destroy(spec.id, 0, 0) })
  await runtime.create(spec)
  const root = runtime.paths(spec.id).root
  const fake: FakeNode = { command: { type: 'wait' }, status: undefined, pulls: 0 }
  const socket = await PullSocketServer.listen(join(root, pullSocketName), async request => {
    fake.status = request.status
    fake.pulls++
    return fake.command
  })
  t.teardown(async () => { await socket.close() })
  const packages = join(dir, 'packages')
  mkdirSync(packages)
  const files = createServer((request, response) => {
    const path = join(packages, (request.url ?? '').slice(1))
    if (!existsSync(path)) return response.writeHead(404).end()
    response.end(readFileSync(path))
  })
  await new Promise<void>(resolve => files.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { files.closeAllConnections(); await new Promise(resolve => files.close(resolve)) })
  const baseUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`
  const startAppWorker = async (): Promise<number> => {
    const log = openSync(join(dir, 'appworker.log'), 'a')
    const child = await runtime.spawn(spec.id, { kind: 'root' }, [node, '--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'appworker', '--dir', root, '--job', 'job1', '--pod', 'pod1'], {
      cwd: repoRoot, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }, stdio: ['ignore', log, log], detached: true
    })
    closeSync(log)
    child.unref()
    return child.pid as number
  }
  const waitTask = async (name: string, check: (task: TaskStatus) => boolean, what: string, timeoutMs = 30_000): Promise<TaskStatus> => {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const task = fake.status?.tasks.find(candidate => candidate.name === name)
      if (task !== undefined && check(task)) return task
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const log = readFileSync(join(dir, 'appworker.log'), 'utf8').trim().split('\n').slice(-5).join('\n')
    throw new Error(`${what}: not within ${timeoutMs} ms; last status ${JSON.stringify(fake.status)}\n${log}`)
  }
  return { runtime, spec, fake, packages, baseUrl, root, port, startAppWorker, waitTask }
}

/** Writes `packages/<name>` as a tar.gz of `files`; answers its sha256. */
async function makePackage (h: Harness, name: string, files: Record<string, string>): Promise<string> {
  const source = join(h.packages, `${name}-src`)
  mkdirSync(source)
  for (const [file, text] of Object.entries(files)) writeFileSync(join(source, file), text)
  await tar.c({ gzip: true, file: join(h.packages, name), cwd: source }, Object.keys(files))
  return createHash('sha256').update(readFileSync(join(h.packages, name))).digest('hex')
}

const restart = { mode: 'always' as const, attempts: 3, windowMs: 60_000, initialDelayMs: 200, maxDelayMs: 1000 }

function webTask (url: string, sha256: string | undefined, extra: Partial<TaskDescription> = {}): TaskDescription {
  return {
    name: 'web' as TaskId,
    package: { url, sha256 },
    deployCommand: 'test -f server.js && echo deployed > deployed',
    startCommand: `exec ${node} server.js`,
    stopTimeoutMs: 3000,
    restart,
    health: { port: 'http', command: 'test ! -e ../sick', intervalMs: 200, timeoutMs: 1000, failures: 2, graceMs: 0 },
    env: { GREETING: 'hello' },
    ...extra
  }
}

function run (pod: PodDescription): PodCommand {
  return { type: 'run', pod }
}

needsCgroups('the task lifecycle end to end: deploy over HTTP, start, crash and restart, health, rebuild in place, graceful stop', async t => {
  t.timeout(150_000)
  const h = await harness(t)
  const v1 = await makePackage(h, 'v1.tgz', { 'server.js': serverScript, version: 'v1' })
  const v2 = await makePackage(h, 'v2.tgz', { 'server.js': serverScript, version: 'v2' })
  const d1 = await makePackage(h, 'd1.tgz', { greeting: 'd1' })
  const d2 = await makePackage(h, 'd2.tgz', { greeting: 'd2' })
  // The worker ignores SIGTERM: only its stop command (a file it watches) ends it.
  const worker: TaskDescription = {
    name: 'worker' as TaskId,
    startCommand: 'rm -f stop-now; trap "" TERM; while [ ! -e stop-now ]; do sleep 0.1; done; echo stopping gracefully; exit 0',
    stopCommand: 'touch stop-now',
    stopTimeoutMs: 20_000,
    restart,
    env: {}
  }
  h.fake.command = run({ version: 'v1', dataVersion: 'd1', tasks: [webTask(`${h.baseUrl}/v1.tgz`, v1), worker] })
  await h.startAppWorker()

  // Deployed, started, healthy; the environment is the pod's.
  let web = await h.waitTask('web', task => task.phase === 'running' && task.health === 'healthy', 'web running and healthy')
  const webDir = join(h.root, 'workspace', 'web')
  t.is(readFileSync(join(webDir, 'deployed'), 'utf8'), 'deployed\n', 'the deploy command ran in the task dir')
  const env = JSON.parse(readFileSync(join(webDir, 'env.json'), 'utf8')) as Record<string, string>
  t.like(env, { GALAXY_JOB_ID: 'job1', GALAXY_POD_ID: 'pod1', GALAXY_TASK_ID: 'web', GALAXY_PORT_HTTP: String(h.port), GALAXY_DATA_VERSION: 'd1', GREETING: 'hello' })
  t.is(await (await fetch(`http://127.0.0.1:${h.port}/`)).text(), 'v1')
  const cgroupOfWeb = readFileSync(`/proc/${web.pid}/cgroup`, 'utf8')
  t.true(cgroupOfWeb.includes(`/${cgroupParent}/${h.spec.id}/task-web`), 'the task runs in its own cgroup')
  t.is(h.fake.status?.phase, 'running')

  // A crash: restarted after its backoff, with the exit recorded.
  process.kill(web.pid, 'SIGKILL')
  const crashedPid = web.pid
  web = await h.waitTask('web', task => task.phase === 'running' && task.pid !== crashedPid && task.restarts === 1, 'web restarted after a crash')
  t.like(web.lastExit, { signal: 'SIGKILL', oomKilled: false })
  t.is(web.message, 'killed by SIGKILL')

  // Health failing, then recovering; the process is never touched.
  writeFileSync(join(h.root, 'workspace', 'sick'), '')
  await h.waitTask('web', task => task.health === 'unhealthy', 'web unhealthy')
  t.false(h.fake.status?.healthy)
  rmSync(join(h.root, 'workspace', 'sick'))
  await h.waitTask('web', task => task.health === 'healthy', 'web healthy again')
  t.is((await h.waitTask('web', () => true, 'web')).pid, web.pid, 'health does not restart the task')

  // A kill -9 of the AppWorker, and a new one: it re-attaches, nothing is restarted.
  const appWorkerPid = (await h.runtime.pids(h.spec.id)).find(pid => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('appworker'))
  t.truthy(appWorkerPid)
  process.kill(appWorkerPid as number, 'SIGKILL')
  const pullsBefore = h.fake.pulls
  await h.startAppWorker()
  await h.waitTask('web', () => h.fake.pulls > pullsBefore + 2, 'the new AppWorker pulls')
  const reattached = await h.waitTask('web', task => task.phase === 'running', 'web still running')
  t.is(reattached.pid, web.pid, 'the same process, re-attached')
  t.is(reattached.restarts, 1)

  // Rebuild to v2 in place: the same container, a new process serving v2.
  const data = (sha256: string, name: string): Partial<TaskDescription> => ({ dataPackage: { url: `${h.baseUrl}/${name}`, sha256 }, reloadCommand: 'cat data/greeting > reloaded' })
  h.fake.command = run({ version: 'v2', dataVersion: 'd1', tasks: [webTask(`${h.baseUrl}/v2.tgz`, v2, data(d1, 'd1.tgz')), worker] })
  web = await h.waitTask('web', task => task.phase === 'running' && task.version === 'v2' && task.health === 'healthy', 'web rebuilt to v2')
  t.not(web.pid, reattached.pid)
  t.is(web.restarts, 0, 'a rebuild starts the restart count afresh')
  t.is(await (await fetch(`http://127.0.0.1:${h.port}/`)).text(), 'v2')
  t.is(readFileSync(join(webDir, 'data', 'greeting'), 'utf8'), 'd1', 'the data package is unpacked on deploy')

  // A new data version: the data package is fetched again and the reload command run; the process stays.
  h.fake.command = run({ version: 'v2', dataVersion: 'd2', tasks: [webTask(`${h.baseUrl}/v2.tgz`, v2, data(d2, 'd2.tgz')), worker] })
  const reloaded = await h.waitTask('web', task => task.reload === 'reloaded', 'web reloaded')
  t.is(reloaded.pid, web.pid, 'a reload keeps the process')
  t.is(readFileSync(join(webDir, 'reloaded'), 'utf8'), 'd2', 'the reload command saw the new data')

  // A graceful stop: the worker ignores SIGTERM, its stop command ends it with exit 0 long before the timeout.
  const stopAt = Date.now()
  h.fake.command = { type: 'stop' }
  const stopped = await h.waitTask('worker', task => task.phase === 'stopped', 'worker stopped')
  t.like(stopped.lastExit, { code: 0, signal: null })
  t.true(Date.now() - stopAt < 15_000, 'stopped by its stop command, not killed at the timeout')
  await h.waitTask('web', task => task.phase === 'stopped', 'web stopped')
  t.is(h.fake.status?.phase, 'stopped')
  t.true(readFileSync(join(h.root, 'logs', 'worker.out.log'), 'utf8').includes('stopping gracefully'), 'the task\'s output is in its log file')
  const left = (await h.runtime.pids(h.spec.id)).filter(pid => !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('appworker'))
  t.deepEqual(left, [], 'no task process is left')

  // Told to quit (its resources changed): every task stays stopped and the pod says why.
  h.fake.command = { type: 'quit' }
  await h.waitTask('web', () => h.fake.status?.message.startsWith('quit:') === true, 'the pod reports it quit')
  t.is(h.fake.status?.phase, 'stopped')
})

needsCgroups('bad input fails the task with a clear message and leaves the container consistent', async t => {
  t.timeout(120_000)
  const h = await harness(t)
  const good = await makePackage(h, 'good.tgz', { 'server.js': serverScript, version: 'v1' })
  h.fake.command = run({ version: 'v1', dataVersion: '', tasks: [webTask(`${h.baseUrl}/missing.tgz`, undefined)] })
  await h.startAppWorker()
  let web = await h.waitTask('web', task => task.phase === 'failed', 'a 404 package fails')
  t.is(web.message, `deploy failed: package ${h.baseUrl}/missing.tgz: HTTP 404 Not Found`)

  h.fake.command = run({ version: 'v2', dataVersion: '', tasks: [webTask(`${h.baseUrl}/good.tgz`, '0'.repeat(64))] })
  web = await h.waitTask('web', task => task.phase === 'failed' && task.version === 'v2', 'a wrong sha256 fails')
  t.is(web.message, `deploy failed: package ${h.baseUrl}/good.tgz: sha256 is ${good}, expected ${'0'.repeat(64)}`)
  t.false(existsSync(join(h.root, 'workspace', 'web', 'server.js')), 'nothing of the refused package was unpacked')

  h.fake.command = run({ version: 'v3', dataVersion: '', tasks: [webTask(`${h.baseUrl}/good.tgz`, good, { startCommand: 'no-such-program --serve', health: undefined })] })
  web = await h.waitTask('web', task => task.phase === 'failed' && task.version === 'v3', 'a missing start command fails after its restarts')
  t.is(web.message, 'exited with code 127 (command not found); restarted 3 times within 60 s, the most its restart policy allows')
  t.is(web.restarts, 3)
  t.true(readFileSync(join(h.root, 'logs', 'web.err.log'), 'utf8').includes('no-such-program'), 'the shell\'s complaint is in the task\'s log')

  // A pod description the AppWorker refuses changes nothing.
  h.fake.command = run({ version: 'v4', dataVersion: '', tasks: [webTask(`${h.baseUrl}/good.tgz`, good, { startCommand: '' })] })
  await h.waitTask('web', () => h.fake.status?.message !== '', 'the refusal is reported')
  t.is(h.fake.status?.message, 'refused a pod description: task web: needs a start command')
  t.is(h.fake.status?.version, 'v3')

  // And the container is still usable: a good version runs.
  h.fake.command = run({ version: 'v5', dataVersion: '', tasks: [webTask(`${h.baseUrl}/good.tgz`, good)] })
  web = await h.waitTask('web', task => task.phase === 'running' && task.version === 'v5', 'a good version runs after the failures')
  t.truthy(await processIdentity(web.pid))
})
