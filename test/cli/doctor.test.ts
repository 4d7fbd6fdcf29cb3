import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer, type AddressInfo } from 'node:net'
import test from 'ava'
import { evaluateHost, type Check } from '../../src/cli/doctor-checks.js'
import { formatBytes } from '../../src/cli/output.js'
import type { HostReport } from '../../src/runtime/host/host-report.js'
import { freePort } from '../helpers/free-port.js'
import { tempDir } from '../helpers/temp-dir.js'
import { runGalaxy } from './run.js'

const gib = 1024 ** 3


function host (overrides: Partial<HostReport> = {}): HostReport {
  const controller = (name: string, path: string) => ({ name, version: 'v2' as const, path, writable: true, error: '' })
  return {
    os: 'linux',
    arch: 'x64',
    kernel: '6.1.0',
    uid: 0,
    root: true,
    cgroups: {
      unifiedMount: '/sys/fs/cgroup',
      unifiedControllers: ['cpu', 'memory', 'pids'],
      v1Hierarchies: [],
      controllers: ['cpu', 'cpuacct', 'memory', 'pids', 'freezer'].map(name => controller(name, '/sys/fs/cgroup'))
    },
    namespaces: (['pid', 'mount', 'uts', 'ipc'] as const).map(kind => ({ kind, ok: true, error: '' })),
    disk: { dataDir: '/var/lib/galaxy', exists: true, probedPath: '/var/lib/galaxy', writable: true, freeBytes: 50 * gib, totalBytes: 100 * gib, error: '' },
    ports: [
      { purpose: 'listen', host: '0.0.0.0', port: 1645, state: 'free', error: '' },
      { purpose: 'api', host: '127.0.0.1', port: 1646, state: 'free', error: '' }
    ],
    storage: { ok: true, path: '/var/lib/galaxy/.galaxy-doctor-x', addon: '/root/.cache/galaxy/classic-level-1.node', addonFailed: false, error: '' },
    ...overrides
  }
}

const byId = (checks: Check[]): Record<string, Check> => Object.fromEntries(checks.map(check => [check.id, check]))

test('a ready v2 host passes every check', t => {
  const checks = evaluateHost(host())
  t.true(checks.every(check => check.status === 'pass' && check.fix === ''), JSON.stringify(checks.filter(c => c.status !== 'pass')))
  t.deepEqual(checks.map(check => check.id), ['platform', 'user', 'cgroups', 'cgroup cpu', 'cgroup cpuacct', 'cgroup memory',
    'cgroup pids', 'cgroup freezer', 'namespace pid', 'namespace mount', 'namespace uts', 'namespace ipc', 'data dir',
    'port listen', 'port api', 'storage'])
  t.is(byId(checks).cgroups?.summary, 'v2 unified: v2 at /sys/fs/cgroup (controllers: cpu, memory, pids)')
})

test('without root, isolation is degraded: warnings with fixes, not failures', t => {
  const checks = byId(evaluateHost(host({
    uid: 1000,
    root: false,
    namespaces: [{ kind: 'pid', ok: false, error: 'unshare: unshare failed: Operation not permitted' }]
  })))
  t.like(checks.user, { status: 'warn', fix: 'run galaxy as root for cgroup limits and namespaces' })
  t.like(checks['namespace pid'], { status: 'warn', fix: 'run galaxy as root' })
})

test('missing or read-only controllers and no cgroup mount are warnings that say what to do', t => {
  const report = host()
  const checks = byId(evaluateHost(host({
    cgroups: {
      unifiedMount: '',
      unifiedControllers: [],
      v1Hierarchies: [],
      controllers: [
        { name: 'cpu', version: 'v1', path: '/sys/fs/cgroup/cpu', writable: false, error: 'EROFS: read-only file system' },
        ...report.cgroups.controllers.slice(1).map(c => ({ ...c, version: 'missing' as const, path: '', writable: false, error: 'no cgroup hierarchy offers it' }))
      ]
    }
  })))
  t.like(checks.cgroups, { status: 'warn', summary: 'no cgroup filesystem is mounted' })
  t.like(checks['cgroup cpu'], { status: 'warn', summary: 'v1 at /sys/fs/cgroup/cpu, not writable: EROFS: read-only file system', fix: 'remount /sys/fs/cgroup/cpu read-write' })
  t.like(checks['cgroup memory'], { status: 'warn', fix: 'enable the memory controller in the kernel and mount it' })
})

test('what stops galaxy up fails: platform, ports, disk, storage', t => {
  const checks = byId(evaluateHost(host({
    os: 'darwin',
    disk: { dataDir: '/data', exists: false, probedPath: '/', writable: true, freeBytes: 0.5 * gib, totalBytes: 10 * gib, error: '' },
    ports: [
      { purpose: 'listen', host: '0.0.0.0', port: 1645, state: 'in-use', error: 'another process is listening there' },
      { purpose: 'api', host: '10.9.9.9', port: 1646, state: 'unavailable', error: 'listen EADDRNOTAVAIL' }
    ],
    storage: { ok: false, path: '', addon: '/tmp/x.node', addonFailed: true, error: 'cannot load the embedded classic-level addon' }
  })))
  t.like(checks.platform, { status: 'fail', fix: 'galaxy nodes run on Linux only' })
  t.like(checks['data dir'], { status: 'fail', summary: '/data (not created yet; checked /): only 512 MiB free of 10.0 GiB' })
  t.like(checks['port listen'], { status: 'fail', fix: "stop the process listening there (ss -ltnp 'sport = :1645') or pass --listen HOST:PORT" })
  t.like(checks['port api'], { status: 'fail', summary: '10.9.9.9:1646 (HTTP API) cannot be bound: listen EADDRNOTAVAIL', fix: 'pass --api with an address of this host' })
  t.like(checks.storage, { status: 'fail', fix: 'set GALAXY_NATIVE_DIR to a writable directory on a filesystem mounted without noexec' })
})

test('a database failure in the directory points at the data dir, not the addon', t => {
  const checks = byId(evaluateHost(host({ storage: { ok: false, path: '/srv/g/.x', addon: 'node_modules', addonFailed: false, error: 'IO error: lock /srv/g/.x/LOCK: Resource temporarily unavailable' } })))
  t.like(checks.storage, { status: 'fail', fix: 'make the data dir a writable directory on a local filesystem, or choose another with --data' })
})

test('an unwritable data dir fails with its reason', t => {
  const checks = byId(evaluateHost(host({
    uid: 1000,
    root: false,
    disk: { dataDir: '/srv/g', exists: true, probedPath: '/srv/g', writable: false, freeBytes: 10 * gib, totalBytes: 20 * gib, error: '/srv/g is not writable' }
  })))
  t.like(checks['data dir'], { status: 'fail', summary: '/srv/g: /srv/g is not writable', fix: 'choose a directory you own with --data, or run as root' })
})

test('byte counts read in binary units', t => {
  t.is(formatBytes(0), '0 B')
  t.is(formatBytes(1536), '1.5 KiB')
  t.is(formatBytes(80 * gib), '80.0 GiB')
  t.is(formatBytes(300 * gib), '300 GiB')
})

test('galaxy doctor on this host: a table, exit 1 and a summary line when a port is taken', async t => {
  const server = createServer()
  await new Promise<void>(resolve => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
  t.teardown(() => { server.close() })
  const { port } = server.address() as AddressInfo
  const data = tempDir(t)
  const run = await runGalaxy(['doctor', '--data', data, '--listen', `127.0.0.1:${await freePort()}`, '--api', `127.0.0.1:${port}`])
  t.is(run.exitCode, 1)
  t.regex(run.stdout, new RegExp(`✗ port api +127\\.0\\.0\\.1:${port} \\(HTTP API\\) is in use\\n +fix: stop the process listening there \\(ss -ltnp 'sport = :${port}'\\)`))
  t.regex(run.stdout, /✓ storage +LevelDB opens/)
  t.regex(run.stdout, new RegExp(`✓ data dir +${data}: `))
  t.is(run.stderr, 'galaxy: 1 of 16 host checks failed\n')
})

test('galaxy doctor refuses a listen and API address that share a port, and an empty data dir', async t => {
  const clash = await runGalaxy(['doctor', '--listen', '0.0.0.0:1700', '--api', '127.0.0.1:1700'])
  t.is(clash.exitCode, 2)
  t.is(clash.stderr, 'galaxy: --listen 0.0.0.0:1700 and --api 127.0.0.1:1700 would share a port\n')
  const empty = await runGalaxy(['doctor', '--data', ''])
  t.is(empty.exitCode, 2)
  t.is(empty.stderr, 'galaxy: --data: must not be empty\n')
})

test('galaxy doctor fails a data dir that is a file', async t => {
  const file = join(tempDir(t), 'file')
  writeFileSync(file, '')
  const run = await runGalaxy(['doctor', '--json', '--data', file, '--listen', `127.0.0.1:${await freePort()}`, '--api', `127.0.0.1:${await freePort()}`])
  t.is(run.exitCode, 1)
  const report = JSON.parse(run.stdout)
  t.like(report.checks.find((check: Check) => check.id === 'data dir'), { status: 'fail', summary: `${file}: ${file} is not a directory` })
  t.like(report.host.storage, { ok: true }, 'the database is still proven, in the temp dir')
})

test('galaxy doctor --json carries the checks and the host record of host.proto', async t => {
  const data = tempDir(t)
  const run = await runGalaxy(['doctor', '--json', '--data', data, '--listen', `127.0.0.1:${await freePort()}`, '--api', `127.0.0.1:${await freePort()}`])
  const report = JSON.parse(run.stdout)
  t.is(run.exitCode, report.ok ? 0 : 1)
  t.is(report.checks.length, 16)
  t.like(report.host, { os: 'linux', arch: process.arch, uid: process.getuid?.(), root: process.getuid?.() === 0 })
  t.like(report.host.disk, { dataDir: data, exists: true, writable: true })
  t.like(report.host.storage, { ok: true, addon: 'node_modules' })
  t.deepEqual(report.host.ports.map((p: { state: string }) => p.state), ['free', 'free'])
  t.deepEqual(Object.keys(report.host.cgroups).sort(), ['controllers', 'unifiedControllers', 'unifiedMount', 'v1Hierarchies'])
})
