import test from 'ava'
import type { ContainerId, JobId, PodId, TaskId } from '../../../src/lib/ids.js'
import { checkPlacement, placementEnvelope, placementLimits, placementRequest, type Placement, type TaskEnvelope } from '../../../src/roles/agent/placement.js'
import type { TaskDescription } from '../../../src/roles/appworker/pod-description.js'

const mib = 1024 * 1024

function task (name: string, extra: Partial<TaskDescription> = {}): TaskDescription {
  return {
    name: name as TaskId,
    startCommand: './serve',
    stopTimeoutMs: 5000,
    restart: { mode: 'always', attempts: 3, windowMs: 60_000, initialDelayMs: 100, maxDelayMs: 1000 },
    env: {},
    ...extra
  }
}

function envelope (name: string, cpuMillicores = 100, memoryBytes = 64 * mib): TaskEnvelope {
  return { name: name as TaskId, cpuMillicores, memoryBytes }
}

/** A good placement of two tasks with one port; `overrides` makes it bad in one way. */
function placement (overrides: Partial<Placement> = {}): Placement {
  return {
    container: 'web-1.c1' as ContainerId,
    job: 'web' as JobId,
    pod: 'web-1' as PodId,
    cpuBurst: false,
    tasks: [envelope('web', 200, 128 * mib), envelope('sidecar', 50, 16 * mib)],
    diskBytes: 1024 * mib,
    namespaces: ['pid', 'mount'],
    volumes: [{ name: 'data', kind: 'disk' }],
    ports: [{ name: 'http', port: 8080 }],
    description: { version: 'v1', dataVersion: 'd1', tasks: [task('web'), task('sidecar')] },
    ...overrides
  }
}

test('a good placement passes the check', t => {
  t.is(checkPlacement(placement()), undefined)
})

test('a bad container, job or pod id is refused with the id rule it breaks', t => {
  t.is(checkPlacement(placement({ container: 'Web_1' as ContainerId })), 'ContainerId "Web_1" must use only lower-case letters, digits, inner dots and dashes')
  t.is(checkPlacement(placement({ job: '' as JobId })), 'JobId must not be empty')
  t.is(checkPlacement(placement({ pod: '-web' as PodId })), 'PodId "-web" must use only lower-case letters, digits, inner dots and dashes')
})

test('a task with an envelope but no description is refused', t => {
  t.is(checkPlacement(placement({ tasks: [envelope('web'), envelope('sidecar'), envelope('extra')] })), 'task extra has an envelope but no description')
})

test('a task with a description but no envelope is refused', t => {
  t.is(checkPlacement(placement({ tasks: [envelope('web')] })), 'task sidecar has no resource envelope')
})

test('a task with two envelopes is refused', t => {
  t.is(checkPlacement(placement({ tasks: [envelope('web'), envelope('sidecar'), envelope('web')] })), 'task web has two envelopes')
})

test('cpu below the minimum is refused', t => {
  t.is(checkPlacement(placement({ tasks: [envelope('web', placementLimits.minCpuMillicores - 1), envelope('sidecar')] })), 'task web: cpu must be at least 10 millicores')
  t.is(checkPlacement(placement({ tasks: [envelope('web', placementLimits.minCpuMillicores), envelope('sidecar')] })), undefined)
})

test('memory below the minimum is refused', t => {
  t.is(checkPlacement(placement({ tasks: [envelope('web'), envelope('sidecar', 100, placementLimits.minMemoryBytes - 1)] })), 'task sidecar: memory must be at least 4 MiB')
  t.is(checkPlacement(placement({ tasks: [envelope('web'), envelope('sidecar', 100, placementLimits.minMemoryBytes)] })), undefined)
})

test('a pids limit below 1 is refused', t => {
  t.is(checkPlacement(placement({ tasks: [{ ...envelope('web'), pidsMax: 0 }, envelope('sidecar')] })), 'task web: the pids limit must be at least 1')
})

test('a port name that appears twice is refused', t => {
  t.is(checkPlacement(placement({ ports: [{ name: 'http', port: 8080 }, { name: 'http', port: 8081 }] })), 'port http appears twice')
})

test('a port name that is not lower-case letters, digits or _ is refused', t => {
  t.is(checkPlacement(placement({ ports: [{ name: 'Http', port: 8080 }] })), 'port name "Http" must be a lower-case letter, then letters, digits or _')
  t.is(checkPlacement(placement({ ports: [{ name: '9http', port: 8080 }] })), 'port name "9http" must be a lower-case letter, then letters, digits or _')
})

test('an unknown namespace is refused with the known ones', t => {
  const bad = placement({ namespaces: ['net' as never] })
  t.is(checkPlacement(bad), 'unknown namespace "net" (known: pid, mount, uts, ipc)')
})

test('more ports than the limit are refused', t => {
  const ports = Array.from({ length: placementLimits.maxPorts + 1 }, (_, i) => ({ name: `p${i}`, port: 10_000 + i }))
  t.is(checkPlacement(placement({ ports })), 'at most 64 ports, not 65')
  t.is(checkPlacement(placement({ ports: ports.slice(0, placementLimits.maxPorts) })), undefined)
})

test('more volumes than the limit are refused', t => {
  const volumes = Array.from({ length: placementLimits.maxVolumes + 1 }, (_, i) => ({ name: `v${i}`, kind: 'disk' as const }))
  t.is(checkPlacement(placement({ volumes })), 'at most 32 volumes, not 33')
})

test('a disk size that is not a whole number of bytes is refused', t => {
  t.is(checkPlacement(placement({ diskBytes: -1 })), 'disk must be a whole number of bytes')
  t.is(checkPlacement(placement({ diskBytes: 1.5 })), 'disk must be a whole number of bytes')
})

test('a pod description problem is refused: a health check on a port the placement does not have', t => {
  const health = { port: 'admin', intervalMs: 1000, timeoutMs: 500, failures: 3, graceMs: 0 }
  const description = { version: 'v1', dataVersion: 'd1', tasks: [task('web', { health }), task('sidecar')] }
  t.is(checkPlacement(placement({ description })), 'task web: the health check port admin is not one of the pod\'s ports')
  t.is(checkPlacement(placement({ description, ports: [{ name: 'http', port: 8080 }, { name: 'admin', port: 8081 }] })), undefined)
})

test('a pod description problem is refused: a description without a version', t => {
  t.is(checkPlacement(placement({ description: { version: '', dataVersion: '', tasks: [task('web'), task('sidecar')] } })), 'a pod needs a version')
})

test('the request sums the tasks\' cpu and memory and carries disk and ports', t => {
  t.deepEqual(placementRequest(placement()), { cpuMillicores: 250, memoryBytes: 144 * mib, diskBytes: 1024 * mib, ports: [8080] })
})

test('the envelope changes with cpu, memory, pids, ports, volumes, namespaces, disk and burst', t => {
  const base = placementEnvelope(placement())
  const changed: Array<[string, Partial<Placement>]> = [
    ['cpu', { tasks: [envelope('web', 300, 128 * mib), envelope('sidecar', 50, 16 * mib)] }],
    ['memory', { tasks: [envelope('web', 200, 256 * mib), envelope('sidecar', 50, 16 * mib)] }],
    ['pids', { tasks: [{ ...envelope('web', 200, 128 * mib), pidsMax: 100 }, envelope('sidecar', 50, 16 * mib)] }],
    ['port number', { ports: [{ name: 'http', port: 8081 }] }],
    ['port name', { ports: [{ name: 'web', port: 8080 }] }],
    ['volumes', { volumes: [{ name: 'data', kind: 'tmpfs', sizeBytes: 64 * mib }] }],
    ['namespaces', { namespaces: ['pid', 'mount', 'uts'] }],
    ['disk', { diskBytes: 2048 * mib }],
    ['burst', { cpuBurst: true }]
  ]
  for (const [what, overrides] of changed) t.not(placementEnvelope(placement(overrides)), base, what)
})

test('the envelope does not change with the description\'s version, data version or commands', t => {
  const base = placementEnvelope(placement())
  const description = { version: 'v2', dataVersion: 'd2', tasks: [task('web', { startCommand: './serve --v2', stopCommand: './drain', env: { A: '1' } }), task('sidecar', { stopTimeoutMs: 1000 })] }
  t.is(placementEnvelope(placement({ description })), base)
})

// The runtime's rules for ports and volumes (src/lib/container-rules.ts) hold for a placement too,
// so a bad one is refused before it is counted, not made and failed.

test('a port number outside 1..65535 is refused', t => {
  t.truthy(checkPlacement(placement({ ports: [{ name: 'http', port: 70_000 }] })))
  t.truthy(checkPlacement(placement({ ports: [{ name: 'http', port: 0 }] })))
})

test('a port number reserved twice is refused', t => {
  t.truthy(checkPlacement(placement({ ports: [{ name: 'http', port: 8080 }, { name: 'admin', port: 8080 }] })))
})

test('a bad volume name, a volume twice, a tmpfs without size or a relative host path is refused', t => {
  t.truthy(checkPlacement(placement({ volumes: [{ name: '../etc', kind: 'disk' }] })))
  t.truthy(checkPlacement(placement({ volumes: [{ name: 'data', kind: 'disk' }, { name: 'data', kind: 'disk' }] })))
  t.truthy(checkPlacement(placement({ volumes: [{ name: 'scratch', kind: 'tmpfs', sizeBytes: 0 }] })))
  t.truthy(checkPlacement(placement({ volumes: [{ name: 'logs', kind: 'host', hostPath: 'var/log', readOnly: true }] })))
})
