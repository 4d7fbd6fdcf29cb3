import test from 'ava'
import type { ContainerId } from '../../../src/lib/ids.js'
import { fits, free, type Capacity, type Request } from '../../../src/roles/agent/allocation.js'
import { reconcileContainers, type ActualContainer, type DesiredContainer } from '../../../src/roles/agent/reconcile.js'

const gib = 1024 * 1024 * 1024
const capacity: Capacity = {
  total: { cpuMillicores: 4000, memoryBytes: 8 * gib, diskBytes: 100 * gib },
  reserved: { cpuMillicores: 500, memoryBytes: gib, diskBytes: 10 * gib }
}
const request = (cpuMillicores: number, memoryGib = 1, ports: number[] = []): Request => ({ cpuMillicores, memoryBytes: memoryGib * gib, diskBytes: gib, ports })
const want = (id: string, req: Request, envelope = 'e1', description = 'v1'): DesiredContainer => ({ id: id as ContainerId, envelope, description, request: req })
const have = (id: string, req: Request, state: ActualContainer['state'] = 'running', envelope = 'e1', stopDone = false): ActualContainer =>
  ({ id: id as ContainerId, envelope, description: 'v1', request: req, state, stopDone })
const summary = (actions: ReturnType<typeof reconcileContainers>): string[] =>
  actions.map(action => `${action.type} ${action.id}${'reason' in action ? `: ${action.reason}` : ''}`)

test('the reserve is not handed out, and what does not fit names the short resource', t => {
  t.deepEqual(free(capacity, [request(1000)]), { cpuMillicores: 2500, memoryBytes: 6 * gib, diskBytes: 89 * gib })
  t.deepEqual(fits(capacity, [], request(3500, 7)), { ok: true })
  t.deepEqual(fits(capacity, [], request(3600)), { ok: false, reason: 'cpu: needs 3600m, 3500m free' })
  t.deepEqual(fits(capacity, [request(100, 6)], request(100, 2)), { ok: false, reason: 'memory: needs 2048 MiB, 1024 MiB free' })
  t.deepEqual(fits(capacity, [request(100, 1, [8080])], request(100, 1, [8080])), { ok: false, reason: 'port 8080 is held by another container' })
})

test('missing containers are made, unwanted ones stopped, matching ones left alone', t => {
  const actions = reconcileContainers(
    [want('a', request(1000)), want('b', request(1000))],
    [have('a', request(1000)), have('z', request(500))],
    capacity)
  t.deepEqual(summary(actions), ['stop z: unwanted', 'create b'])
  t.deepEqual(reconcileContainers([want('a', request(1000))], [have('a', request(1000))], capacity), [])
})

test('creates are refused once the node is full, counting earlier creates of the same round', t => {
  const actions = reconcileContainers([want('a', request(2000)), want('b', request(1000)), want('c', request(1000))], [], capacity)
  t.deepEqual(summary(actions), ['create a', 'create b', 'refuse c: cpu: needs 1000m, 500m free'])
})

test('a stopping container holds its room until its tasks stopped; its destroy comes first, so the room counts for the creates of that round', t => {
  t.deepEqual(summary(reconcileContainers([want('new', request(3000))], [have('old', request(3000))], capacity)), ['stop old: unwanted', 'refuse new: cpu: needs 3000m, 500m free'])
  t.deepEqual(summary(reconcileContainers([want('new', request(3000))], [have('old', request(3000), 'stopping')], capacity)), ['refuse new: cpu: needs 3000m, 500m free'])
  t.deepEqual(summary(reconcileContainers([want('new', request(3000))], [have('old', request(3000), 'stopping', 'e1', true)], capacity)), ['destroy old: stopped', 'create new'])
})

test('a changed envelope is stopped and made again in a later round; a new description alone is an update in place', t => {
  t.deepEqual(summary(reconcileContainers([want('a', request(1000), 'e2')], [have('a', request(1000))], capacity)), ['stop a: envelope changed'])
  t.deepEqual(summary(reconcileContainers([want('a', request(1000), 'e1', 'v2')], [have('a', request(1000))], capacity)), ['update a'])
  t.deepEqual(summary(reconcileContainers([want('a', request(1000), 'e1', 'v2')], [have('a', request(1000), 'stopping')], capacity)), [])
})

test('a container whose root process is lost is cleaned up, kept as failed while wanted, forgotten when not', t => {
  t.deepEqual(summary(reconcileContainers([want('a', request(1000))], [have('a', request(1000), 'dead')], capacity)), ['destroy a: root process lost'])
  t.deepEqual(reconcileContainers([want('a', request(1000))], [have('a', request(1000), 'failed')], capacity), [])
  t.deepEqual(summary(reconcileContainers([], [have('a', request(1000), 'failed')], capacity)), ['forget a'])
})

test('a container a crash left half made is destroyed whole, wanted or not', t => {
  t.deepEqual(summary(reconcileContainers([want('a', request(1000))], [have('a', request(1000), 'creating')], capacity)), ['destroy a: half made'])
  t.deepEqual(summary(reconcileContainers([], [have('a', request(1000), 'creating')], capacity)), ['destroy a: half made'])
})
