import test from 'ava'
import { findCgroupMounts, placeControllers } from '../../src/runtime/host/cgroup-layout.js'
import { parseMountinfo } from '../../src/runtime/host/mountinfo.js'

// A systemd host on cgroup v2 only (Debian 12, Ubuntu 22.04+, RHEL 9).
const pureV2 = `
22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
26 28 0:24 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,size=1621008k,mode=755
28 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
// This kind of machine: v1 hierarchies with a v2 mount holding what v1 does not.
const hybrid = `
40 39 0:35 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
41 40 0:36 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
42 40 0:37 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
43 40 0:38 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
44 40 0:39 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
45 40 0:40 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
46 40 0:41 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
47 40 0:42 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
// An older host with the usual co-mounted v1 hierarchies and no freezer.
const pureV1 = `
50 49 0:44 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,cpu,cpuacct
51 49 0:45 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,memory
52 49 0:46 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,pids
53 1 8:1 / /mnt/my\\040disk rw,relatime - ext4 /dev/sda1 rw
`

test('mountinfo lines give mount point, type, source and options; octal escapes are undone', t => {
  const mounts = parseMountinfo(pureV1)
  t.is(mounts.length, 4)
  t.deepEqual(mounts[0], {
    mountPoint: '/sys/fs/cgroup/cpu,cpuacct',
    mountOptions: ['rw', 'nosuid', 'nodev', 'noexec', 'relatime'],
    fsType: 'cgroup',
    source: 'cgroup',
    superOptions: ['rw', 'cpu', 'cpuacct']
  })
  t.is(mounts[3]?.mountPoint, '/mnt/my disk')
  t.deepEqual(parseMountinfo('garbage\n\n1 2 3'), [])
})

test('a pure v2 host puts every controller on the unified tree', t => {
  const mounts = findCgroupMounts(parseMountinfo(pureV2))
  t.deepEqual(mounts, { unifiedMount: '/sys/fs/cgroup', v1Hierarchies: [] })
  t.deepEqual(placeControllers(mounts, ['cpuset', 'cpu', 'io', 'memory', 'pids']).map(p => `${p.name}:${p.version}:${p.root}`), [
    'cpu:v2:/sys/fs/cgroup', 'cpuacct:v2:/sys/fs/cgroup', 'memory:v2:/sys/fs/cgroup', 'pids:v2:/sys/fs/cgroup', 'freezer:v2:/sys/fs/cgroup'
  ])
})

test('a hybrid host uses v1 for controllers bound there, even with a v2 mount', t => {
  const mounts = findCgroupMounts(parseMountinfo(hybrid))
  t.is(mounts.unifiedMount, '/sys/fs/cgroup/unified')
  t.deepEqual(mounts.v1Hierarchies.map(h => h.controllers), [['cpu'], ['cpuacct'], ['memory'], ['pids'], ['freezer'], []])
  t.deepEqual(placeControllers(mounts, ['hugetlb']).map(p => `${p.name}:${p.version}:${p.root}`), [
    'cpu:v1:/sys/fs/cgroup/cpu', 'cpuacct:v1:/sys/fs/cgroup/cpuacct', 'memory:v1:/sys/fs/cgroup/memory',
    'pids:v1:/sys/fs/cgroup/pids', 'freezer:v1:/sys/fs/cgroup/freezer'
  ])
})

test('a pure v1 host finds co-mounted controllers and reports what is missing', t => {
  const placements = placeControllers(findCgroupMounts(parseMountinfo(pureV1)), [])
  t.deepEqual(placements.map(p => `${p.name}:${p.version}:${p.root}`), [
    'cpu:v1:/sys/fs/cgroup/cpu,cpuacct', 'cpuacct:v1:/sys/fs/cgroup/cpu,cpuacct', 'memory:v1:/sys/fs/cgroup/memory',
    'pids:v1:/sys/fs/cgroup/pids', 'freezer:missing:'
  ])
})

test('a host without cgroups has every controller missing', t => {
  const placements = placeControllers(findCgroupMounts(parseMountinfo('')), [])
  t.true(placements.every(p => p.version === 'missing'))
})
