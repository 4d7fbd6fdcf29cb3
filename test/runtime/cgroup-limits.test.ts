import test from 'ava'
import type { ContainerId, TaskId } from '../../src/lib/ids.js'
import { cgroupDirs, cpuShares, cpuWeight, limitWrites } from '../../src/runtime/cgroup/cgroup-limits.js'
import { keyedCounters, usageFrom } from '../../src/runtime/cgroup/cgroup-usage.js'
import { checkContainerSpec, containerCgroupPath, type ContainerSpec } from '../../src/runtime/container/container-spec.js'
import { confinedCommand } from '../../src/runtime/process/confined-command.js'

const writes = (version: 'v1' | 'v2', limits: Parameters<typeof limitWrites>[1]): string[] =>
  limitWrites(version, limits).map(w => `${w.file}=${w.value}${w.optional ? '?' : ''}`)

test('v2: a hard quota is cpu.max, memory without swap, a pids limit', t => {
  t.deepEqual(writes('v2', { cpuMillicores: 250, memoryBytes: 64 << 20, pidsMax: 100 }),
    ['cpu.max=25000 100000', `memory.max=${64 << 20}`, 'memory.swap.max=0?', 'pids.max=100'])
})

test('v1: the same limits in v1 files, memory before memory+swap', t => {
  t.deepEqual(writes('v1', { cpuMillicores: 250, memoryBytes: 64 << 20, pidsMax: 100 }),
    ['cpu.cfs_period_us=100000', 'cpu.cfs_quota_us=25000', 'memory.swappiness=0?', `memory.limit_in_bytes=${64 << 20}`, `memory.memsw.limit_in_bytes=${64 << 20}?`, 'pids.max=100'])
})

test('bursting cpu is a weight, not a quota; tiny quotas are raised to the kernel minimum', t => {
  t.deepEqual(writes('v1', { cpuMillicores: 1000, cpuBurst: true }), ['cpu.shares=1024'])
  t.deepEqual(writes('v2', { cpuMillicores: 1000, cpuBurst: true }), ['cpu.weight=39'])
  t.deepEqual(writes('v2', { cpuMillicores: 1 }), ['cpu.max=1000 100000'])
  t.deepEqual(writes('v2', {}), [])
  t.is(cpuShares(1), 2)
  t.is(cpuWeight(2), 1)
  t.is(cpuWeight(262_144), 10_000)
})

test('a cgroup has one directory per hierarchy that holds a controller, none for a missing one', t => {
  t.deepEqual(cgroupDirs([
    { name: 'cpu', version: 'v1', root: '/cg/cpu,cpuacct' },
    { name: 'cpuacct', version: 'v1', root: '/cg/cpu,cpuacct' },
    { name: 'memory', version: 'v2', root: '/cg/unified' },
    { name: 'pids', version: 'v2', root: '/cg/unified' },
    { name: 'freezer', version: 'missing', root: '' }
  ], 'galaxy/c1'), [
    { dir: '/cg/cpu,cpuacct/galaxy/c1', version: 'v1', controllers: ['cpu', 'cpuacct'] },
    { dir: '/cg/unified/galaxy/c1', version: 'v2', controllers: ['memory', 'pids'] }
  ])
})

test('usage reads v1 and v2 files alike; what is missing counts as zero', t => {
  const v2 = usageFrom(new Map([
    ['cpu.stat', 'usage_usec 1500\nuser_usec 1000\n'],
    ['memory.current', '4096\n'],
    ['memory.peak', '8192\n'],
    ['memory.events', 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n'],
    ['pids.current', '3\n'],
    ['pids.events', 'max 7\n']
  ]))
  t.deepEqual(v2, { cpuUsageNs: 1_500_000, memoryBytes: 4096, memoryPeakBytes: 8192, oomKills: 1, pidsLimitHits: 7, pids: 3 })
  const v1 = usageFrom(new Map([
    ['cpuacct.usage', '123456789\n'],
    ['memory.usage_in_bytes', '1000\n'],
    ['memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n']
  ]))
  t.deepEqual(v1, { cpuUsageNs: 123_456_789, memoryBytes: 1000, memoryPeakBytes: 1000, oomKills: 2, pidsLimitHits: 0, pids: 0 })
  t.deepEqual([...keyedCounters('a 1\n\nb max\n')], [['a', 1], ['b', 0]])
})

test('container cgroup paths keep the root process apart from tasks', t => {
  const id = 'web-1' as ContainerId
  t.is(containerCgroupPath('galaxy', id), 'galaxy/web-1')
  t.is(containerCgroupPath('galaxy', id, { kind: 'root' }), 'galaxy/web-1/root')
  t.is(containerCgroupPath('galaxy', id, { kind: 'task', task: 'root' as TaskId }), 'galaxy/web-1/task-root')
})

test('a spec is checked before anything is made', t => {
  const base: ContainerSpec = { id: 'c' as ContainerId, tasks: [], rootLimits: {}, namespaces: [], volumes: [], ports: [] }
  t.is(checkContainerSpec(base), undefined)
  t.is(checkContainerSpec({ ...base, volumes: [{ name: 'Big', kind: 'disk' }] }), 'volume name "Big" must use lower-case letters, digits and inner dashes')
  t.is(checkContainerSpec({ ...base, volumes: [{ name: 't', kind: 'tmpfs', sizeBytes: 0 }] }), 'tmpfs volume t needs a size above 0')
  t.is(checkContainerSpec({ ...base, ports: [{ name: 'a', port: 80 }, { name: 'b', port: 80 }] }), 'port 80 is reserved twice')
  t.is(checkContainerSpec({ ...base, ports: [{ name: 'a', port: 70_000 }] }), 'port a must be between 1 and 65535')
})

test('a confined command joins its cgroups in a shell that then execs, through unshare for namespaces', t => {
  const plain = confinedCommand(['sleep', '1'], { procsFiles: ['/cg/a/cgroup.procs', '/cg/b/cgroup.procs'], namespaces: [] })
  t.is(plain.file, '/bin/sh')
  t.deepEqual(plain.args.slice(3), ['sleep', '1'])
  t.is(plain.env.GALAXY_JOIN_CGROUPS, '/cg/a/cgroup.procs\n/cg/b/cgroup.procs')
  const isolated = confinedCommand(['sleep', '1'], { procsFiles: [], namespaces: ['pid', 'uts'], addressSpaceBytes: 1 << 20 })
  t.deepEqual(isolated.args.slice(3, 11), ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', '--uts', '--', '/bin/sh'])
  t.deepEqual(isolated.args.slice(-3), ['galaxy-init', 'sleep', '1'])
  t.is(isolated.env.GALAXY_ULIMIT_V, '1024')
  t.throws(() => confinedCommand([], { procsFiles: [], namespaces: [] }))
})
