import test from 'ava'
import type { ContainerId, JobId, NodeId, PodId } from '../../../src/lib/ids.js'
import { operateJob, podIdOf, type JobOperation, type JobRecord, type JobVersion } from '../../../src/roles/job/job-record.js'
import { parseJobSpec, type JobSpec } from '../../../src/roles/job/job-spec.js'
import { placementOf } from '../../../src/roles/job/pod-of-spec.js'
import { planContainers, type NodeState, type PlacedContainer, type ReportedContainer, type ResManAction, type ResManInput, type ResManPlan } from '../../../src/roles/resman/plan-containers.js'

const gib = 1024 ** 3

/** A `web` service of 6 pods, 1 cpu and 1 GiB each, one dynamic port, spread, step 2; `extra` lines go under `deploy`. */
function webSpec (options: { readonly replica?: number, readonly cpu?: string, readonly start?: string, readonly port?: string, readonly deploy?: string } = {}): JobSpec {
  const parsed = parseJobSpec(`
name: web
replica: ${options.replica ?? 6}
deploy: { step: 2${options.deploy ?? ''} }
pod:
  tasks:
    - name: server
      cpu: ${options.cpu ?? '1'}
      memory: 1GB
      ports: [{ name: http${options.port ?? ''} }]
      start: ${options.start ?? './server'}
`)
  if (!parsed.ok) throw new Error(parsed.error.join('; '))
  return parsed.value
}

function version (spec: JobSpec, name: string): Omit<JobVersion, 'submittedAtMs'> {
  return { version: name, podVersion: name, dataVersion: '', spec }
}

function operate (record: JobRecord | undefined, operation: JobOperation): JobRecord {
  const result = operateJob(record, operation, 1000)
  if (!result.ok) throw new Error(result.error)
  return result.value
}

/** A job submitted as version `v1` of `spec`, then moved by `operations`. */
function job (spec: JobSpec = webSpec(), ...operations: JobOperation[]): JobRecord {
  return operations.reduce(operate, operate(undefined, { type: 'submit', version: version(spec, 'v1') }))
}

/** An alive, healthy node of pool `main` with 4 cpus, 8 GiB and 100 GiB, and its report. */
function node (id: string, overrides: Partial<NodeState> = {}): NodeState {
  return { id: id as NodeId, pool: 'main', labels: {}, liveness: 'alive', health: 'healthy', allocatable: { cpuMillicores: 4000, memoryBytes: 8 * gib, diskBytes: 100 * gib }, ...overrides }
}

/** A report where each container is running (its pod too), or as given. */
function report (entries: Record<string, Partial<ReportedContainer>>): ReadonlyMap<string, ReportedContainer> {
  return new Map(Object.entries(entries).map(([id, given]) => [id, { state: 'running', phase: 'running', message: '', ...given }]))
}

/** Pod `index` of `record` on `on`, container `<pod>.<suffix>`, of the job's current version (or `of`). */
function placed (record: JobRecord, index: number, on: string, suffix = 'a', of: JobVersion = record.current): PlacedContainer {
  const pod = podIdOf(record.name, index) as PodId
  return { node: on as NodeId, placement: placementOf(of, { container: `${pod}.${suffix}` as ContainerId, pod }, [20_000 + index]) }
}

/** Six pods of `record`, two on each of n1, n2, n3. */
function spread (record: JobRecord, of?: JobVersion): PlacedContainer[] {
  return [0, 1, 2, 3, 4, 5].map(index => placed(record, index, `n${1 + (index % 3)}`, 'a', of))
}

/** Nodes n1..n3, each reporting its placements of `placements` running (or as `containers` says). */
function nodesReporting (placements: readonly PlacedContainer[], overrides: Record<string, Partial<NodeState>> = {}, containers: Record<string, Partial<ReportedContainer>> = {}): NodeState[] {
  return ['n1', 'n2', 'n3'].map(id => node(id, {
    containers: report(Object.fromEntries(placements.filter(each => each.node === id).map(each => [each.placement.container, containers[each.placement.container] ?? {}]))),
    ...overrides[id]
  }))
}

function plan (input: ResManInput, options: { readonly seed?: number, readonly safeMode?: boolean } = {}): ResManPlan & { readonly suffixes: number } {
  let suffixes = 0
  const result = planContainers(input, { seed: options.seed ?? 1, safeMode: options.safeMode ?? false, newSuffix: () => `s${++suffixes}` })
  return { ...result, suffixes }
}

function summary (actions: readonly ResManAction[]): string[] {
  return actions.map(action => action.type === 'place'
    ? `place ${action.placement.container} on ${action.node}`
    : action.type === 'unplace' ? `unplace ${action.container} on ${action.node}: ${action.reason}` : `finish ${action.job}`)
}

function placesPerNode (actions: readonly ResManAction[], kept: readonly PlacedContainer[] = []): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const each of [...kept, ...actions.flatMap(action => action.type === 'place' ? [action] : [])]) counts[each.node] = (counts[each.node] ?? 0) + 1
  return counts
}

/** What the input holds once the plan ran: its placements less the unplaced, plus the placed. */
function applied (input: ResManInput, actions: readonly ResManAction[]): PlacedContainer[] {
  const gone = new Set(actions.flatMap(action => action.type === 'unplace' ? [`${action.node}/${action.container}`] : []))
  return [
    ...input.placements.filter(each => !gone.has(`${each.node}/${each.placement.container}`)),
    ...actions.flatMap(action => action.type === 'place' ? [{ node: action.node, placement: action.placement }] : [])
  ]
}

test('six pods of a spread job go two on each of three nodes, with the current version and the chosen ports; then nothing is left to do', t => {
  const web = job()
  const input = { jobs: [web], placements: [], nodes: nodesReporting([]) }
  const first = plan(input)
  t.deepEqual(placesPerNode(first.actions), { n1: 2, n2: 2, n3: 2 })
  t.deepEqual(first.actions.map(action => action.type === 'place' ? action.placement.container : ''), ['web.0.s1', 'web.1.s2', 'web.2.s3', 'web.3.s4', 'web.4.s5', 'web.5.s6'])
  const one = first.actions[0]
  if (one?.type !== 'place') return t.fail()
  const port = one.placement.ports[0]?.port ?? 0
  t.true(port >= 20_000)
  t.deepEqual(one.placement, placementOf(web.current, { container: 'web.0.s1' as ContainerId, pod: 'web.0' as PodId }, [port]))
  t.is(first.unplaced.size, 0)
  const placements = applied(input, first.actions)
  t.deepEqual(plan({ jobs: [web], placements, nodes: nodesReporting(placements) }).actions, [])
  t.deepEqual(plan({ jobs: [web], placements, nodes: nodesReporting([]) }).actions, [], 'containers not yet in a report are left to be made')
})

test('what kept placements hold counts: another job\'s fixed port and the pods a plan already placed', t => {
  const web = job(webSpec({ replica: 3, port: ', port: 8080' }))
  const db = job(parsedSpec('name: db\nreplica: 1\npod: { tasks: [{ name: db, cpu: 1, memory: 1GB, ports: [{ name: sql, port: 8080 }], start: ./db }] }'))
  const placements = [placed(db, 0, 'n1')]
  const result = plan({ jobs: [web, db], placements, nodes: nodesReporting(placements) })
  t.deepEqual(placesPerNode(result.actions), { n2: 1, n3: 1 })
  t.deepEqual(result.unplaced, new Map([['web' as JobId, { pods: 1, excluded: { ports: 3 } }]]))
})

test('scaling down unplaces the pods past the new replica, highest first in pod order, and nothing else', t => {
  const web = job(webSpec(), { type: 'scale', replica: 3 })
  const placements = spread(web)
  t.deepEqual(summary(plan({ jobs: [web], placements, nodes: nodesReporting(placements) }).actions), [
    'unplace web.3.a on n1: scaled down to 3',
    'unplace web.4.a on n2: scaled down to 3',
    'unplace web.5.a on n3: scaled down to 3'
  ])
})

test('a stopped job loses every placement and is finished once none is left; a removed or unknown job\'s placements go too', t => {
  const stopped = job(webSpec(), { type: 'stop' })
  const placements = spread(stopped).slice(0, 2)
  const first = plan({ jobs: [stopped], placements, nodes: nodesReporting(placements) })
  t.deepEqual(summary(first.actions), ['unplace web.0.a on n1: job web is stopping', 'unplace web.1.a on n2: job web is stopping'])
  t.deepEqual(summary(plan({ jobs: [stopped], placements: [], nodes: nodesReporting([]) }).actions), ['finish web'])
  const removed = job(webSpec(), { type: 'remove' })
  t.deepEqual(summary(plan({ jobs: [removed], placements: placements.slice(0, 1), nodes: nodesReporting([]) }).actions), ['unplace web.0.a on n1: job web is being removed'])
  t.deepEqual(summary(plan({ jobs: [], placements: placements.slice(0, 1), nodes: nodesReporting([]) }).actions), ['unplace web.0.a on n1: job web is gone'])
  const running = job(webSpec({ replica: 1 }))
  const stray: PlacedContainer = { node: 'n1' as NodeId, placement: { ...placed(running, 0, 'n1').placement, pod: 'web.x' as PodId, container: 'web.x.a' as ContainerId } }
  t.deepEqual(summary(plan({ jobs: [running], placements: [placed(running, 0, 'n2'), stray], nodes: nodesReporting([]) }).actions), ['unplace web.x.a on n1: pod web.x is not a pod of job web'])
})

test('the pods of a dead or unknown node are unplaced and placed on live nodes in the same pass, never more than replica', t => {
  const web = job()
  const placements = spread(web)
  const nodes = nodesReporting(placements, { n3: { liveness: 'dead' } })
  const result = plan({ jobs: [web], placements, nodes })
  t.deepEqual(summary(result.actions), [
    'unplace web.2.a on n3: node n3 is dead',
    'unplace web.5.a on n3: node n3 is dead',
    'place web.2.s1 on n1',
    'place web.5.s2 on n2'
  ])
  const live = applied({ jobs: [web], placements, nodes }, result.actions)
  t.deepEqual(placesPerNode([], live), { n1: 3, n2: 3 })
  t.deepEqual(summary(plan({ jobs: [web], placements, nodes: nodes.slice(0, 2) }).actions).slice(0, 2), ['unplace web.2.a on n3: node n3 is dead', 'unplace web.5.a on n3: node n3 is dead'])
  t.deepEqual(plan({ jobs: [web], placements, nodes: nodesReporting(placements, { n3: { liveness: 'suspect' } }) }).actions, [], 'a suspect node keeps its pods')
})

test('with maxPerHost the pods of a dead node wait, and say which filters kept them out', t => {
  const web = job(webSpec({ deploy: ', maxPerHost: 2' }))
  const placements = spread(web)
  const result = plan({ jobs: [web], placements, nodes: nodesReporting(placements, { n3: { liveness: 'dead' } }) })
  t.deepEqual(summary(result.actions), ['unplace web.2.a on n3: node n3 is dead', 'unplace web.5.a on n3: node n3 is dead'])
  t.deepEqual(result.unplaced, new Map([['web' as JobId, { pods: 2, excluded: { liveness: 1, maxPerHost: 2 } }]]))
})

test('a container the agent reports failed or refused is replaced; one missing from the report is left alone', t => {
  const web = job(webSpec({ replica: 3 }))
  const placements = [placed(web, 0, 'n1'), placed(web, 1, 'n2'), placed(web, 2, 'n3')]
  const nodes = [
    node('n1', { containers: report({ 'web.0.a': { state: 'failed', phase: 'failed', message: 'root process died' } }) }),
    node('n2', { containers: report({ 'web.1.a': { state: 'refused', phase: 'unknown', message: 'cpu: needs 1000m, 500m free' } }) }),
    node('n3', { containers: report({}) })
  ]
  const result = plan({ jobs: [web], placements, nodes })
  t.deepEqual(summary(result.actions).slice(0, 2), ['unplace web.0.a on n1: root process died', 'unplace web.1.a on n2: cpu: needs 1000m, 500m free'])
  t.deepEqual(result.actions.slice(2).map(action => action.type === 'place' ? action.placement.pod : action.type), ['web.0', 'web.1'])
  const silent = [node('n1', { containers: report({ 'web.0.a': { state: 'failed' } }) }), node('n2'), node('n3')]
  t.deepEqual(summary(plan({ jobs: [web], placements, nodes: silent }).actions)[0], 'unplace web.0.a on n1: container web.0.a failed')
})

test('of two placements of one pod the one on an alive node, then the running one, is kept', t => {
  const web = job(webSpec({ replica: 2 }))
  const placements = [placed(web, 0, 'n1', 'a'), placed(web, 0, 'n2', 'b'), placed(web, 1, 'n3', 'a'), placed(web, 1, 'n2', 'c')]
  const nodes = [
    node('n1', { containers: report({ 'web.0.a': { state: 'creating', phase: 'unknown' } }) }),
    node('n2', { containers: report({ 'web.0.b': {}, 'web.1.c': { state: 'creating', phase: 'unknown' } }) }),
    node('n3', { liveness: 'suspect', containers: report({ 'web.1.a': {} }) })
  ]
  t.deepEqual(summary(plan({ jobs: [web], placements, nodes }).actions), ['unplace web.0.a on n1: duplicate of web.0.b', 'unplace web.1.a on n3: duplicate of web.1.c'])
})

test('during an update a pod whose shape changed is made again once out of service (the AppMaster tells it to quit), not before', t => {
  const web: JobRecord = { ...job(), state: 'running' }
  const old = web.current
  const updated = operate(web, { type: 'submit', version: version(webSpec({ cpu: '2' }), 'v2') })
  t.is(updated.state, 'updating')
  const placements = spread(updated, old)
  t.deepEqual(plan({ jobs: [updated], placements, nodes: nodesReporting(placements) }).actions, [], 'every old pod serves: the AppMaster paces them')
  const quit = nodesReporting(placements, {}, { 'web.0.a': { phase: 'stopped' }, 'web.1.a': { phase: 'stopping' } })
  const first = plan({ jobs: [updated], placements, nodes: quit })
  t.deepEqual(summary(first.actions).slice(0, 2), ['unplace web.0.a on n1: resources changed', 'unplace web.1.a on n2: resources changed'])
  t.deepEqual(first.actions.slice(2).map(action => action.type === 'place' ? `${action.placement.pod} ${action.placement.tasks[0]?.cpuMillicores ?? 0}` : action.type), ['web.0 2000', 'web.1 2000'])
  const after = applied({ jobs: [updated], placements, nodes: [] }, first.actions)
  const starting = nodesReporting(after, {}, Object.fromEntries(after.filter(each => each.placement.tasks[0]?.cpuMillicores === 2000).map(each => [each.placement.container, { phase: 'starting' }])))
  t.deepEqual(plan({ jobs: [updated], placements: after, nodes: starting }).actions, [], 'a new pod starting at the new shape is left alone')
  const crashed = nodesReporting(placements, {}, { 'web.3.a': { phase: 'failed' } })
  t.deepEqual(summary(plan({ jobs: [operate(updated, { type: 'pause' })], placements, nodes: crashed }).actions).slice(0, 1), ['unplace web.3.a on n1: resources changed'],
    'paused too: an old pod out of service is made at the new shape')
})

test('an update that keeps the shape, a paused or a cancelled update replace nothing', t => {
  const web: JobRecord = { ...job(), state: 'running' }
  const sameShape = operate(web, { type: 'submit', version: version(webSpec({ start: './server --fast' }), 'v2') })
  const placements = spread(sameShape, web.current)
  t.deepEqual(plan({ jobs: [sameShape], placements, nodes: nodesReporting(placements) }).actions, [])
  const bigger = operate(web, { type: 'submit', version: version(webSpec({ cpu: '2' }), 'v2') })
  for (const operation of [{ type: 'pause' }, { type: 'cancel' }] as const) {
    t.deepEqual(plan({ jobs: [operate(bigger, operation)], placements, nodes: nodesReporting(placements) }).actions, [])
  }
})

test('in safe mode only removed, stopped and scaled-down pods are unplaced: nothing is placed, dead nodes, failures and duplicates wait', t => {
  const web = job(webSpec(), { type: 'scale', replica: 4 })
  const stopped = job(parsedSpec('name: db\nreplica: 1\npod: { tasks: [{ name: db, cpu: 1, memory: 1GB, start: ./db }] }'), { type: 'stop' })
  const placements = [...spread(web).slice(1), placed(web, 1, 'n1', 'b'), placed(stopped, 0, 'n2')]
  const nodes = nodesReporting([], { n2: { containers: report({ 'web.1.a': { state: 'failed', message: 'boom' } }) }, n3: { liveness: 'dead' } })
  const result = plan({ jobs: [web, stopped], placements, nodes }, { safeMode: true })
  t.deepEqual(summary(result.actions), ['unplace db.0.a on n2: job db is stopping', 'unplace web.4.a on n2: scaled down to 4', 'unplace web.5.a on n3: scaled down to 4'])
  t.is(result.suffixes, 0)
  t.is(result.unplaced.size, 0)
})

test('a job no node can take counts, for its last pod, the nodes each filter excluded', t => {
  const huge = job(webSpec({ cpu: '5' }))
  const result = plan({ jobs: [huge], placements: [], nodes: nodesReporting([], { n3: { liveness: 'dead' } }) })
  t.deepEqual(result.actions, [])
  t.deepEqual(result.unplaced, new Map([['web' as JobId, { pods: 6, excluded: { cpu: 2, liveness: 1 } }]]))
  const half = plan({ jobs: [job(webSpec({ cpu: '3' }))], placements: [], nodes: nodesReporting([]) })
  t.deepEqual(placesPerNode(half.actions), { n1: 1, n2: 1, n3: 1 })
  t.deepEqual(half.unplaced, new Map([['web' as JobId, { pods: 3, excluded: { cpu: 3 } }]]))
})

test('the plan depends only on the input, the seed and the suffixes, not on the order of the input', t => {
  const web = job()
  const api = job(parsedSpec('name: api\nreplica: 4\npod: { tasks: [{ name: api, cpu: 500m, memory: 512MB, start: ./api }] }'))
  const placements = [...spread(web).slice(0, 4), placed(web, 0, 'n2', 'b')]
  const nodes = nodesReporting(placements, { n2: { liveness: 'dead' } })
  const input = { jobs: [web, api], placements, nodes: [...nodes, node('n4'), node('n5')] }
  const reordered = { jobs: [api, web], placements: [...placements].reverse(), nodes: [...input.nodes].reverse() }
  for (const seed of [1, 2, 3, 42]) {
    const result = plan(input, { seed })
    t.deepEqual(plan(input, { seed }), result)
    t.deepEqual(plan(reordered, { seed }), result)
    const live = applied(input, result.actions).filter(each => each.node !== 'n2')
    t.is(live.filter(each => each.placement.job === 'web').length, 6)
    t.is(live.filter(each => each.placement.job === 'api').length, 4)
  }
})

function parsedSpec (text: string): JobSpec {
  const parsed = parseJobSpec(text)
  if (!parsed.ok) throw new Error(parsed.error.join('; '))
  return parsed.value
}
