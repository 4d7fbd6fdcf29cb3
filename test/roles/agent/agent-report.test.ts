import test from 'ava'
import { cpuRate, healthLimits, hostHealth } from '../../../src/roles/agent/agent-report.js'

const mib = 1024 * 1024
const gib = 1024 * mib

test('a big disk is full below 512 MiB free, whatever 2 % of it is', t => {
  // 2 % of 100 GiB is 2 GiB: the 512 MiB floor is the smaller one.
  t.deepEqual(hostHealth({ diskFreeBytes: 511 * mib, diskTotalBytes: 100 * gib, missingCgroups: [] }), { health: 'unhealthy', problems: ['disk full: 511 MiB free of 102400 MiB'] })
  t.deepEqual(hostHealth({ diskFreeBytes: healthLimits.diskFreeBytes, diskTotalBytes: 100 * gib, missingCgroups: [] }), { health: 'healthy', problems: [] })
})

test('a small disk is full below 2 % free, though more than 512 MiB would be a lot of it', t => {
  // 2 % of 10 GiB is 204.8 MiB.
  t.deepEqual(hostHealth({ diskFreeBytes: 200 * mib, diskTotalBytes: 10 * gib, missingCgroups: [] }), { health: 'unhealthy', problems: ['disk full: 200 MiB free of 10240 MiB'] })
  t.deepEqual(hostHealth({ diskFreeBytes: 205 * mib, diskTotalBytes: 10 * gib, missingCgroups: [] }), { health: 'healthy', problems: [] })
})

test('every missing cgroup mount is a problem of its own', t => {
  const health = hostHealth({ diskFreeBytes: 50 * gib, diskTotalBytes: 100 * gib, missingCgroups: ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/memory'] })
  t.deepEqual(health, { health: 'unhealthy', problems: ['cgroup mount missing: /sys/fs/cgroup/cpu', 'cgroup mount missing: /sys/fs/cgroup/memory'] })
})

test('a full disk and a missing cgroup are both listed, the disk first', t => {
  const health = hostHealth({ diskFreeBytes: 0, diskTotalBytes: 100 * gib, missingCgroups: ['/sys/fs/cgroup'] })
  t.deepEqual(health.problems, ['disk full: 0 MiB free of 102400 MiB', 'cgroup mount missing: /sys/fs/cgroup'])
  t.is(health.health, 'unhealthy')
})

test('a host with room and all its cgroups is healthy', t => {
  t.deepEqual(hostHealth({ diskFreeBytes: 50 * gib, diskTotalBytes: 100 * gib, missingCgroups: [] }), { health: 'healthy', problems: [] })
})

test('1000 µs of cpu per ms is 1000 millicores, one core', t => {
  t.is(cpuRate({ cpuUs: 5_000_000, atMs: 10_000 }, { cpuUs: 6_000_000, atMs: 11_000 }), 1000)
  t.is(cpuRate({ cpuUs: 0, atMs: 0 }, { cpuUs: 250_000, atMs: 1000 }), 250)
})

test('cpu is 0 when the clock did not advance', t => {
  t.is(cpuRate({ cpuUs: 0, atMs: 1000 }, { cpuUs: 500_000, atMs: 1000 }), 0)
})

test('cpu is 0 when the counter was reset (a new cgroup)', t => {
  t.is(cpuRate({ cpuUs: 9_000_000, atMs: 0 }, { cpuUs: 1000, atMs: 1000 }), 0)
})
