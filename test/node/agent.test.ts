// The agent role of real `galaxy up` processes, as root on cgroups: placements written to the store
// become containers with a running AppWorker; a new version is rebuilt in place; a removed one is
// stopped gracefully and leaves nothing behind; after kill -9 of the node, running pods are
// re-adopted untouched and a container whose AppWorker died meanwhile is cleaned up.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'
import type { ContainerId, JobId, NodeId, PodId, TaskId } from '../../src/lib/ids.js'
import { cgroupParentOf } from '../../src/node/agent/node-agent.js'
import { encodePlacement } from '../../src/node/agent/placement-codec.js'
import type { ApiClient } from '../../src/node/api/client.js'
import type { AgentBody } from '../../src/node/api/wire.js'
import { placementKey, type Placement } from '../../src/roles/agent/placement.js'
import type { TaskDescription } from '../../src/roles/appworker/pod-description.js'
import { detectIsolation } from '../../src/runtime/container/isolation.js'
import { processIdentity } from '../../src/runtime/process/proc-stat.js'
import { ProcessCluster, sleep, type GalaxyProcess } from '../helpers/galaxy-process.js'
import { freePort } from '../helpers/free-port.js'
import { testIf } from '../helpers/host.js'
import { destroyNodeLeftovers } from '../helpers/node-leftovers.js'

const isolation = await detectIsolation()
const needsCgroups = testIf(isolation.level === 'full', `root and cgroups (${isolation.reasons.join('; ')})`, { serial: true })
const mib = 1024 * 1024

/** A task that says it started and writes its pid, and on SIGTERM says so, writes `stopped` and exits 0. */
function task (name: string, extra: Partial<TaskDescription> = {}): TaskDescription {
  return {
    name: name as TaskId,
    startCommand: 'echo started $$; echo $$ > pid; trap \'echo stopping; echo stopped > stopped; exit 0\' TERM; while true; do sleep 0.1; done',
    stopTimeoutMs: 5000,
    restart: { mode: 'always', attempts: 3, windowMs: 60_000, initialDelayMs: 100, maxDelayMs: 1000 },
    env: {},
    ...extra
  }
}

function placement (id: string, version = 'v1', overrides: Partial<Placement> = {}): Placement {
  return {
    container: id as ContainerId,
    job: 'web' as JobId,
    pod: `${id}-pod` as PodId,
    cpuBurst: false,
    tasks: [{ name: 'web' as TaskId, cpuMillicores: 100, memoryBytes: 64 * mib }],
    diskBytes: 0,
    namespaces: [],
    volumes: [],
    ports: [],
    description: { version, dataVersion: '', tasks: [task('web')] },
    ...overrides
  }
}

type Container = AgentBody['containers'][number]

async function waitAgent (client: ApiClient, check: (body: AgentBody) => boolean, what: string, timeoutMs = 30_000): Promise<AgentBody> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const body = await client.agent()
      if (check(body)) return body
      last = body.containers.map(container => ({ id: container.placement.container, state: container.state, message: container.message, phase: container.status?.phase, version: container.status?.version, tasks: container.status?.tasks }))
    } catch (error) {
      last = (error as Error).message
    }
    await sleep(100)
  }
  throw new Error(`${what}: not within ${timeoutMs} ms; last: ${JSON.stringify(last)}`)
}

function find (body: AgentBody, id: string): Container | undefined {
  return body.containers.find(container => container.placement.container === id)
}

function runningAt (id: string, version: string) {
  return (body: AgentBody): boolean => {
    const container = find(body, id)
    return container?.state === 'running' && container.status?.phase === 'running' && container.status.version === version
  }
}

async function alive (pid: number): Promise<boolean> {
  return await processIdentity(pid) !== undefined
}

/** The cgroup directories of a container on every hierarchy the runtime uses. */
function cgroupDirs (node: NodeId, id: string): string[] {
  return [...new Set(isolation.placements.filter(placement => placement.version !== 'missing').map(placement => join(placement.root, cgroupParentOf(node), id)))]
}

/**
 * Kills the node, then destroys whatever containers it left (they outlive the node by design) and
 * removes its cgroup parent.
 */
function cleanUpAfter (t: ExecutionContext, node: GalaxyProcess, nodeId: () => NodeId | undefined): void {
  t.teardown(async () => {
    await node.kill()
    await destroyNodeLeftovers(node.dataDir, nodeId())
  })
}

async function startNode (t: ExecutionContext): Promise<{ cluster: ProcessCluster, node: GalaxyProcess, client: ApiClient, id: NodeId }> {
  const cluster = new ProcessCluster(t)
  let id: NodeId | undefined
  // The agent alone: no ResMan, which would take back placements of jobs the cluster does not have.
  const node = await cluster.create({ name: 'n1', flags: ['--roles', 'agent'] })
  cleanUpAfter(t, node, () => id)
  await node.start()
  const client = cluster.client('n1')
  id = (await cluster.waitStatus('n1', status => status.leader !== null)).node.id as NodeId
  return { cluster, node, client, id }
}

needsCgroups('a placement becomes a running pod whose log the node streams, a new version is rebuilt in place, and a removed one stops gracefully and leaves nothing behind', async t => {
  t.timeout(90_000)
  const { node, client, id } = await startNode(t)
  await client.put(placementKey(id, 'c1' as ContainerId), encodePlacement(placement('c1')))
  let body = await waitAgent(client, runningAt('c1', 'v1'), 'c1 runs v1')
  const first = find(body, 'c1') as Container
  const appWorker = first.root?.pid ?? 0
  const taskPid = first.status?.tasks[0]?.pid ?? 0
  t.true(await alive(appWorker))
  t.true(await alive(taskPid))
  // The task runs in its own cgroup of the container, under this node's parent. (Its pid is
  // reported as soon as it is spawned; the pid file it writes says that it runs its command.)
  const pidFile = join(node.dataDir, 'containers', 'c1', 'workspace', 'web', 'pid')
  for (const deadline = Date.now() + 10_000; !existsSync(pidFile) && Date.now() < deadline;) await sleep(20)
  t.is(readFileSync(pidFile, 'utf8').trim(), String(taskPid))
  t.true(readFileSync(`/proc/${taskPid}/cgroup`, 'utf8').includes(`/${cgroupParentOf(id)}/c1/task-web`))
  t.is(body.report.isolation, 'full')
  t.is(body.report.allocated.cpuMillicores, 100)
  t.is(body.report.allocated.memoryBytes, 64 * mib)

  // The task's output, from the node: what is there, then (following) what comes.
  const decoder = new TextDecoder()
  let logged = ''
  for await (const chunk of client.logs('c1')) logged += decoder.decode(chunk)
  t.is(logged, `started ${taskPid}\n`)
  const following = new AbortController()
  let followed = ''
  const follow = (async () => { for await (const chunk of client.logs('c1', { task: 'web', follow: true, signal: following.signal })) followed += decoder.decode(chunk) })()
  await t.throwsAsync(client.logs('c1', { task: 'nope' }).next(), { message: /container c1 has no task "nope" \(it has web\)/ })
  await t.throwsAsync(client.logs('c9').next(), { message: /this node has no container c9/ })

  await client.put(placementKey(id, 'c1' as ContainerId), encodePlacement(placement('c1', 'v2')))
  body = await waitAgent(client, runningAt('c1', 'v2'), 'c1 rebuilt to v2')
  const deadline = Date.now() + 5000
  while (!/started \d+\n$/.test(followed.slice(`started ${taskPid}\n`.length)) && Date.now() < deadline) await sleep(50)
  following.abort()
  await follow
  t.regex(followed, new RegExp(`^started ${taskPid}\nstopping\nstarted \\d+\n$`), 'the follower saw v1 stop and v2 start')
  const rebuilt = find(body, 'c1') as Container
  t.is(rebuilt.root?.pid, appWorker, 'the same container and AppWorker')
  t.not(rebuilt.status?.tasks[0]?.pid, taskPid, 'the task was started again for v2')
  t.false(await alive(taskPid))

  await client.delete(placementKey(id, 'c1' as ContainerId))
  await waitAgent(client, body => body.containers.length === 0, 'c1 destroyed')
  const workspace = join(node.dataDir, 'containers', 'c1', 'workspace', 'web')
  t.is(readFileSync(join(workspace, 'stopped'), 'utf8').trim(), 'stopped', 'the task got SIGTERM and ended by itself')
  t.false(await alive(appWorker))
  t.false(await alive(rebuilt.status?.tasks[0]?.pid ?? 0))
  for (const dir of cgroupDirs(id, 'c1')) t.false(existsSync(dir), `${dir} is removed`)
})

needsCgroups('after kill -9 of the node, running pods are re-adopted untouched; a container whose AppWorker died meanwhile is cleaned up', async t => {
  t.timeout(90_000)
  const { node, client, id } = await startNode(t)
  for (const name of ['c1', 'c2']) await client.put(placementKey(id, name as ContainerId), encodePlacement(placement(name)))
  const before = await waitAgent(client, body => runningAt('c1', 'v1')(body) && runningAt('c2', 'v1')(body), 'c1 and c2 run')
  const c1 = find(before, 'c1') as Container
  const c2 = find(before, 'c2') as Container
  const c1Task = c1.status?.tasks[0]?.pid ?? 0
  const c2Task = c2.status?.tasks[0]?.pid ?? 0

  await node.kill()
  process.kill(c2.root?.pid ?? 0, 'SIGKILL')
  await sleep(1500)
  t.true(await alive(c1.root?.pid ?? 0), 'the AppWorker outlives its node')
  t.true(await alive(c1Task))
  t.true(await alive(c2Task), 'a task outlives its AppWorker')

  await node.start()
  const after = await waitAgent(client, body => find(body, 'c2')?.state === 'failed' && runningAt('c1', 'v1')(body), 'c1 re-adopted and c2 cleaned up')
  const adopted = find(after, 'c1') as Container
  t.is(adopted.root?.pid, c1.root?.pid, 'the same AppWorker')
  t.is(adopted.status?.tasks[0]?.pid, c1Task, 'the same task process')
  t.is(adopted.status?.tasks[0]?.restarts, 0, 'never restarted')
  t.is(find(after, 'c2')?.message, 'its AppWorker died')
  t.false(await alive(c2Task), 'the orphaned task was killed')
  for (const dir of cgroupDirs(id, 'c2')) t.false(existsSync(dir), `${dir} is removed`)
  t.true(node.stderr.includes('re-adopted containers'))
})

needsCgroups('a placement that does not fit is refused with a reason, one that cannot be made fails with one, and a malformed one is ignored', async t => {
  t.timeout(60_000)
  const { client, id } = await startNode(t)
  const huge = placement('big', 'v1', { tasks: [{ name: 'web' as TaskId, cpuMillicores: 1_000_000, memoryBytes: 64 * mib }] })
  await client.put(placementKey(id, 'big' as ContainerId), encodePlacement(huge))
  const port = await freePort()
  const holder = (await import('node:net')).createServer()
  await new Promise<void>(resolve => holder.listen(port, '0.0.0.0', resolve))
  t.teardown(() => { holder.close() })
  await client.put(placementKey(id, 'taken' as ContainerId), encodePlacement(placement('taken', 'v1', { ports: [{ name: 'http', port }] })))
  await client.put(placementKey(id, 'junk' as ContainerId), new TextEncoder().encode('not a placement'))
  const body = await waitAgent(client, body => find(body, 'big')?.state !== undefined || body.report.containers.some(container => container.id === 'big' && container.state === 'refused'), 'big refused')
  const refused = body.report.containers.find(container => container.id === 'big')
  t.is(refused?.state, 'refused')
  t.regex(refused?.message ?? '', /^cpu: needs 1000000m, \d+m free$/)
  t.is(find(body, 'big'), undefined, 'nothing was made for it')
  const failed = await waitAgent(client, body => find(body, 'taken')?.state === 'failed', 'taken failed')
  t.regex(find(failed, 'taken')?.message ?? '', new RegExp(`port http \\(${port}\\) is not free`))
  t.false(existsSync(join(cgroupDirs(id, 'taken')[0] ?? '/nonexistent', 'cgroup.procs')), 'nothing left of it')
  t.is(find(failed, 'junk'), undefined)
  t.false(failed.report.containers.some(container => container.id === 'junk'))
})
