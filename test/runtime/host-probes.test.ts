import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import test from 'ava'
import { probeCgroups } from '../../src/runtime/host/cgroups.js'
import { probeDisk } from '../../src/runtime/host/disk.js'
import { probeNamespaces } from '../../src/runtime/host/namespaces.js'
import { probePort } from '../../src/runtime/host/ports.js'
import { probeStorage } from '../../src/runtime/host/storage.js'
import { canMount, mountForTest, testIf } from '../helpers/host.js'
import { tempDir } from '../helpers/temp-dir.js'


test('a port another socket holds is in use; a released one is free', async t => {
  const server = createServer()
  await new Promise<void>(resolve => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
  const { port } = server.address() as AddressInfo
  t.teardown(() => { server.close() })
  t.like(await probePort('api', { host: '127.0.0.1', port }), { state: 'in-use', purpose: 'api', port })
  await new Promise(resolve => server.close(resolve))
  t.like(await probePort('api', { host: '127.0.0.1', port }), { state: 'free', error: '' })
})

test('an address this host does not have cannot be bound', async t => {
  // 192.0.2.1 is TEST-NET-1: never assigned to a host; binding sends no traffic.
  const probe = await probePort('listen', { host: '192.0.2.1', port: 1645 })
  t.is(probe.state, 'unavailable')
  t.regex(probe.error, /EADDRNOTAVAIL/)
})

test('disk: an existing dir is measured; a missing one is measured at its nearest ancestor', async t => {
  const dir = tempDir(t)
  const here = await probeDisk(dir)
  t.like(here, { dataDir: dir, exists: true, probedPath: dir, writable: true, error: '' })
  t.true(here.freeBytes > 0 && here.totalBytes >= here.freeBytes)
  const missing = await probeDisk(join(dir, 'a', 'b'))
  t.like(missing, { dataDir: join(dir, 'a', 'b'), exists: false, probedPath: dir, writable: true })
  t.false(existsSync(join(dir, 'a')), 'probing creates nothing')
})

test('storage: a LevelDB database opens, syncs and reads back, and the scratch dir is removed', async t => {
  const dir = tempDir(t)
  const probe = await probeStorage(dir)
  t.like(probe, { ok: true, error: '', addon: 'node_modules' })
  t.true(probe.path.startsWith(dir))
  t.deepEqual(readdirSync(dir), [])
})

test('storage: a parent that does not exist fails with the reason', async t => {
  const probe = await probeStorage(join(tempDir(t), 'missing'))
  t.false(probe.ok)
  t.regex(probe.error, /ENOENT/)
})

test('namespaces: the probe agrees with unshare run directly', async t => {
  const probes = await probeNamespaces()
  t.deepEqual(probes.map(p => p.kind), ['pid', 'mount', 'uts', 'ipc'])
  for (const probe of probes) {
    const flags = probe.kind === 'pid' ? ['--pid', '--fork'] : [`--${probe.kind}`]
    const direct = spawnSync('unshare', [...flags, 'true']).status === 0
    t.is(probe.ok, direct, probe.kind)
    t.is(probe.error === '', direct)
  }
})

test('cgroups: mounts match /proc/mounts, and each controller is writable exactly when mkdir works there', async t => {
  const report = await probeCgroups()
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map(line => line.split(' '))
  t.deepEqual(report.v1Hierarchies.map(h => h.mountPoint), mounts.filter(m => m[2] === 'cgroup').map(m => m[1]))
  t.is(report.unifiedMount, mounts.find(m => m[2] === 'cgroup2')?.[1] ?? '')
  t.deepEqual(report.controllers.map(c => c.name), ['cpu', 'cpuacct', 'memory', 'pids', 'freezer'])
  for (const controller of report.controllers.filter(c => c.version !== 'missing')) {
    // An independent attempt at what the probe claims.
    const probe = join(controller.path, `galaxy-test-${process.pid}-${controller.name}`)
    const direct = spawnSync('sh', ['-c', `mkdir "${probe}" && rmdir "${probe}"`]).status === 0
    t.is(controller.writable, direct, `${controller.name}: ${controller.error}`)
    t.false(existsSync(join(controller.path, `galaxy-probe-${process.pid}`)), 'the probe cgroup is removed')
  }
})

test('disk: a path that is a file is not a usable data dir, nor is anything under it', async t => {
  const file = join(tempDir(t), 'file')
  writeFileSync(file, '')
  t.like(await probeDisk(file), { exists: true, writable: false, error: `${file} is not a directory` })
  t.like(await probeDisk(join(file, 'sub')), { exists: false, probedPath: file, writable: false, error: `${file} is not a directory` })
})

testIf(canMount, 'mount permission')('disk: a read-only filesystem is not writable, even for root', async t => {
  const readOnly = join(tempDir(t), 'ro')
  mkdirSync(readOnly)
  mountForTest(t, ['--bind', readOnly], readOnly)
  const remount = spawnSync('mount', ['-o', 'remount,bind,ro', readOnly])
  t.is(remount.status, 0, remount.stderr.toString())
  t.like(await probeDisk(readOnly), { exists: true, writable: false, error: `${readOnly} is not writable` })
})
