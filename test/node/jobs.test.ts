// Jobs end to end on real `galaxy up` processes (three seeds on 127.0.0.1, every role), as root on
// cgroups: a job of 6 small HTTP servers becomes 6 healthy pods answering where naming says; a
// rolling update with step 2 keeps at least 4 in service, updates in place, pauses at a breakpoint,
// continues and rolls back; a node killed with its pods and the job's AppMaster: its pods run
// elsewhere, no other pod restarts; the active ResMan killed: the standby takes over and no pod is
// placed twice; a resource change moves pods to new containers at the pace of the update; a pod
// whose AppWorker hangs is made again; a spec that is not valid changes nothing; a job that does
// not fit says why.
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import type { ExecutionContext } from 'ava'
import { decodePlacement } from '../../src/node/agent/placement-codec.js'
import type { ApiClient } from '../../src/node/api/client.js'
import type { JobStatusBody } from '../../src/node/api/job-wire.js'
import { placementsPrefix } from '../../src/roles/agent/placement.js'
import { NamingClient } from '../../src/sdk/naming.js'
import { detectIsolation } from '../../src/runtime/container/isolation.js'
import { ProcessCluster, sleep, type GalaxyProcess } from '../helpers/galaxy-process.js'
import { testIf } from '../helpers/host.js'
import { waitFor } from '../helpers/wait-for.js'

const isolation = await detectIsolation()
const needsCgroups = testIf(isolation.level === 'full', `root and cgroups (${isolation.reasons.join('; ')})`, { serial: true })

/** Fast failure detection, so that the test waits seconds, not the production half-minute. */
const rescheduleAfterMs = 6000
const flags = ['--suspect-after', '1s', '--dead-after', '3s', '--reschedule-after', `${rescheduleAfterMs / 1000}s`, '--reserve', 'cpu=0,memory=0,disk=0']

function webSpec (options: { replica?: number, step?: number, version?: string, cpu?: string, name?: string } = {}): string {
  return JSON.stringify({
    name: options.name ?? 'web',
    replica: options.replica ?? 6,
    deploy: { step: options.step ?? 2 },
    stopTimeout: '5s',
    pod: {
      tasks: [{
        name: 'server',
        cpu: options.cpu ?? '50m',
        memory: '64MB',
        ports: [{ name: 'http' }],
        env: { VERSION: options.version ?? '1' },
        start: 'exec python3 -m http.server "$GALAXY_PORT_HTTP" --bind 127.0.0.1',
        health: { port: 'http', interval: '500ms', timeout: '1s', failures: 2 }
      }],
      services: [{ name: 'http', port: 'http' }]
    }
  })
}

async function startCluster (t: ExecutionContext): Promise<ProcessCluster> {
  // Teardowns run last first: the jobs are removed, then the cluster kills its nodes and destroys what they left.
  const cluster = new ProcessCluster(t)
  await cluster.add({ name: 'n1', flags })
  await cluster.add({ name: 'n2', seed: true, join: ['n1'], flags })
  await cluster.add({ name: 'n3', seed: true, join: ['n1'], flags })
  await cluster.waitStatus('n1', status => status.members.filter(member => member.suffrage === 'voter').length === 3)
  // The ResMan places pods only on agents its node's gossip hears as alive and healthy: a node
  // that joined last, or whose reports were late on a busy machine, would otherwise get none.
  await waitFor('every node hearing all three agents', async () => {
    for (const node of cluster.nodes.values()) {
      const { nodes } = await node.client(cluster.token).nodes()
      if (nodes.filter(each => each.state === 'alive' && each.agent?.health === 'healthy').length < 3) return false
    }
    return true
  }, 60_000)
  t.teardown(async () => {
    // Remove every job, so that the nodes stop their containers before they are killed.
    const client = liveClient(cluster)
    if (client === undefined) return
    for (const job of (await client.jobs().catch(() => ({ jobs: [] }))).jobs) await client.jobOperation(job.name, 'remove').catch(() => undefined)
    await waitFor('every container gone', async () => {
      for (const node of cluster.nodes.values()) if (node.running && (await node.client(cluster.token).agent()).containers.length > 0) return false
      return true
    }, 60_000).catch(() => undefined)
  })
  return cluster
}

function liveClient (cluster: ProcessCluster): ApiClient | undefined {
  const node = [...cluster.nodes.values()].find(each => each.running)
  return node?.client(cluster.token)
}

/** The pods of the job running its current version and healthy. */
function serving (status: JobStatusBody): number {
  return status.pods.filter(pod => pod.status !== null && pod.status.version === status.job.current.podVersion && pod.status.phase === 'running' && pod.status.healthy).length
}

async function allServing (client: ApiClient, job = 'web', timeoutMs = 90_000): Promise<JobStatusBody> {
  return await waitFor(`every pod of ${job} serving`, async () => {
    const status = await client.job(job)
    return serving(status) === status.job.replica && status.pods.length === status.job.replica ? status : false
  }, timeoutMs)
}

/** Every placement in the store: pod, container, node. */
async function placements (client: ApiClient): Promise<Array<{ pod: string, container: string, node: string }>> {
  const page = await client.list(placementsPrefix)
  return page.items.map(item => {
    const placement = decodePlacement(Buffer.from(item.value, 'base64'))
    return { pod: placement.pod, container: placement.container, node: item.key.slice(placementsPrefix.length).split('/')[0] ?? '' }
  })
}

async function answers (host: string, port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const socket = connect({ host, port })
    socket.setTimeout(1000, () => { socket.destroy(); resolve(false) })
    socket.once('connect', () => { socket.end(); resolve(true) })
    socket.once('error', () => { resolve(false) })
  })
}

async function holder (client: ApiClient, lock: string): Promise<string | undefined> {
  const kv = (await client.get(`\u0000lock/${lock}`)).kv
  return kv === null ? undefined : Buffer.from(kv.value, 'base64').toString()
}

function nodeById (cluster: ProcessCluster, status: JobStatusBody, id: string): GalaxyProcess {
  const name = status.pods.find(pod => pod.node === id)?.nodeName
  const found = [...cluster.nodes.values()].find(node => node.name === name || node.stdout.includes(id))
  if (found === undefined) throw new Error(`no node with id ${id}`)
  return found
}

needsCgroups('three nodes run 6 pods where naming says; a rolling update keeps 4 in service, in place; breakpoint, continue, rollback; a resource change by quit; a hung AppWorker', async t => {
  const cluster = await startCluster(t)
  const client = cluster.client('n2')
  const submitted = await client.submitJob({ spec: webSpec() })
  t.true(submitted.created)
  const ready = await allServing(client)
  t.deepEqual([...new Set(ready.pods.map(pod => pod.nodeName))].sort(), ['n1', 'n2', 'n3'], 'spread over the three nodes')
  const naming = await client.naming('web', 'http')
  t.is(naming.endpoints.length, 6)
  for (const endpoint of naming.endpoints) t.true(await answers(endpoint.host, endpoint.port), `${endpoint.pod} answers at ${endpoint.host}:${endpoint.port}`)
  const containers = new Map(ready.pods.map(pod => [pod.pod, pod.container]))
  // A pod's log through any node: n2 reads the log of a pod that runs on another node.
  const remote = naming.endpoints.find(endpoint => ready.pods.find(pod => pod.pod === endpoint.pod)?.nodeName !== 'n2')
  t.is((await fetch(`http://${remote?.host ?? ''}:${remote?.port ?? 0}/logged`)).status, 404)
  const logged = await waitFor('the request in the pod\'s log', async () => {
    let text = ''
    for await (const chunk of client.podLogs(remote?.pod ?? '', { stream: 'stderr' })) text += Buffer.from(chunk).toString()
    return text.includes('GET /logged') ? text : false
  }, 10_000)
  t.regex(logged, /"GET \/logged HTTP\/1.1" 404/)
  // The SDK resolves the same, and its watch sees the update take pods out of service and back.
  const sdk = new NamingClient({ endpoint: { host: '127.0.0.1', port: cluster.node('n1').apiPort }, token: cluster.token })
  t.deepEqual(await sdk.resolve('web', 'http'), naming.endpoints)
  const watching = new AbortController()
  const seen: number[] = []
  const watched = (async () => { for await (const endpoints of sdk.watch('web', 'http', { signal: watching.signal })) seen.push(endpoints.length) })()

  // Rolling update, step 2: sampled throughout, never more than 2 of the 6 out of service.
  await client.updateJob('web', { spec: webSpec({ version: '2' }) })
  let worst = 0
  const updated = await waitFor('the update done', async () => {
    const status = await client.job('web')
    const inService = status.pods.filter(pod => pod.status !== null && pod.status.phase === 'running' && pod.status.healthy).length
    worst = Math.max(worst, status.job.replica - inService)
    return status.job.state === 'running' && serving(status) === 6 ? status : false
  }, 120_000)
  t.true(worst <= 2, `at most 2 out of service, saw ${worst}`)
  t.true(worst >= 1, 'the update did take pods out of service')
  t.deepEqual(new Map(updated.pods.map(pod => [pod.pod, pod.container])), containers, 'updated in place: same containers')
  await waitFor('the watch sees all 6 again', async () => seen.at(-1) === 6 && seen.length > 1)
  watching.abort()
  await watched
  t.is(seen[0], 6)
  t.true(seen.some(count => count < 6), `the watch saw pods leave service: ${seen.join(' ')}`)

  // Breakpoint 2: the update pauses after 2 pods, continues to 4, then rolls back to version 2.
  await client.updateJob('web', { spec: webSpec({ version: '3' }), breakpoint: 2, step: 1 })
  const paused = await waitFor('paused at the breakpoint', async () => {
    const status = await client.job('web')
    return status.job.state === 'paused' ? status : false
  })
  await sleep(1500)
  const stillPaused = await client.job('web')
  t.is(stillPaused.job.state, 'paused')
  t.is(stillPaused.pods.filter(pod => pod.status?.version === paused.job.current.podVersion).length, 2, 'two pods at version 3, the rest wait')
  await client.continueJob('web', 4)
  await waitFor('paused again at 4', async () => {
    const status = await client.job('web')
    return status.job.state === 'paused' && status.pods.filter(pod => pod.status?.version === status.job.current.podVersion && pod.status.healthy).length === 4
  })
  await client.jobOperation('web', 'rollback')
  const back = await waitFor('rolled back', async () => {
    const status = await client.job('web')
    return status.job.state === 'running' && serving(status) === 6 ? status : false
  }, 120_000)
  t.is(back.job.current.version, updated.job.current.version, 'back at version 2')
  t.deepEqual((await client.jobHistory('web')).history.map(event => event.event), ['submit', 'running', 'update', 'updated', 'update', 'paused', 'continue', 'paused', 'rollback', 'updated'])

  // A resource change: the AppMaster tells pods to quit, step 2 at a time, and pauses at the
  // breakpoint; the ResMan makes each again in a new container with the new envelope.
  const before = new Map(back.pods.map(pod => [pod.pod, pod.container]))
  await client.updateJob('web', { spec: webSpec({ version: '2', cpu: '60m' }), breakpoint: 4 })
  let worstRecreating = 0
  const sampleService = async (): Promise<JobStatusBody> => {
    const status = await client.job('web')
    const inService = status.pods.filter(pod => pod.status !== null && pod.status.phase === 'running' && pod.status.healthy).length
    worstRecreating = Math.max(worstRecreating, status.job.replica - inService)
    return status
  }
  const recreatedPaused = await waitFor('paused at the breakpoint with 4 pods made again', async () => {
    const status = await sampleService()
    return status.job.state === 'paused' ? status : false
  }, 120_000)
  await sleep(1500)
  const moved = (status: JobStatusBody): number => status.pods.filter(pod => pod.container !== before.get(pod.pod)).length
  t.is(moved(await sampleService()), 4, 'no pod past the breakpoint quits')
  t.is(recreatedPaused.pods.filter(pod => pod.status?.version === recreatedPaused.job.current.podVersion).length, 4)
  await client.continueJob('web', undefined)
  const recreated = await waitFor('the resource change done', async () => {
    const status = await sampleService()
    return status.job.state === 'running' && serving(status) === 6 ? status : false
  }, 120_000)
  t.is(moved(recreated), 6, 'every pod in a new container')
  t.true(worstRecreating <= 2, `at most 2 out of service, saw ${worstRecreating}`)
  const envelopes = (await placements(client)).length
  t.is(envelopes, 6, 'one placement per pod')

  // A pod whose AppWorker hangs (alive, no pulls) is lost and made again after --reschedule-after.
  const victim = recreated.pods[0]
  const victimNode = cluster.node(victim?.nodeName ?? '')
  const appWorkerPid = (await victimNode.client(cluster.token).agent()).containers.find(container => container.placement.container === victim?.container)?.root?.pid ?? 0
  t.true(appWorkerPid > 0)
  const hungAt = Date.now()
  process.kill(appWorkerPid, 'SIGSTOP')
  const healed = await waitFor('the hung pod made again', async () => {
    const status = await client.job('web')
    const pod = status.pods.find(each => each.pod === victim?.pod)
    return pod !== undefined && pod.container !== victim?.container && serving(status) === 6 ? status : false
  }, 60_000)
  t.log(`hung AppWorker → pod serving in a new container: ${Date.now() - hungAt} ms`)
  t.is(healed.pods.length, 6)
  t.false(existsSync(`/proc/${appWorkerPid}`), 'the hung AppWorker was killed with its container')
})

needsCgroups('a killed node\'s pods run elsewhere; its AppMaster fails over without restarting pods; the standby ResMan takes over and places no pod twice', async t => {
  const cluster = await startCluster(t)
  const client = cluster.client('n1')
  await client.submitJob({ spec: webSpec() })
  const ready = await allServing(client)

  // Kill the node whose AppMaster drives the job, with its pods.
  const appMaster = ready.appMaster ?? ''
  const victim = nodeById(cluster, ready, appMaster)
  const survivor = cluster.client([...cluster.nodes.values()].find(node => node !== victim)?.name ?? '')
  const lost = ready.pods.filter(pod => pod.nodeName === victim.name)
  const kept = ready.pods.filter(pod => pod.nodeName !== victim.name)
  t.log(`killing ${victim.name}: AppMaster, ${lost.length} pods`)
  const killedAtMs = Date.now()
  await victim.kill()
  let most = 0
  const healed = await waitFor('the lost pods running elsewhere', async () => {
    const status = await survivor.job('web')
    const live = status.pods.filter(pod => pod.nodeName !== victim.name)
    most = Math.max(most, live.length)
    return live.length === 6 && serving({ ...status, pods: live }) === 6 ? status : false
  }, 60_000)
  const healedMs = Date.now() - killedAtMs
  t.log(`healed in ${healedMs} ms (reschedule after ${rescheduleAfterMs} ms)`)
  t.true(healedMs <= rescheduleAfterMs + 10_000)
  t.true(most <= 6, `never more than 6 pods on live nodes (saw ${most})`)
  t.not(healed.appMaster, appMaster, 'another node drives the job')
  for (const pod of kept) {
    const now = healed.pods.find(each => each.pod === pod.pod)
    t.is(now?.container, pod.container, `${pod.pod} kept its container`)
    t.is(now?.status?.restarts, 0, `${pod.pod} never restarted`)
  }

  // The victim comes back (its old containers are cleaned up); then the active ResMan is killed.
  await victim.start()
  await waitFor(`${victim.name}'s old containers gone`, async () => (await victim.client(cluster.token).agent()).containers.every(container => !lost.some(pod => pod.container === container.placement.container)))
  const resman = await waitFor('a ResMan', async () => await holder(survivor, 'resman'))
  const resmanNode = [...cluster.nodes.values()].find(node => node.stdout.includes(resman))
  t.truthy(resmanNode)
  const watcher = cluster.client([...cluster.nodes.values()].find(node => node !== resmanNode)?.name ?? '')
  await resmanNode?.kill()
  const before = await placements(watcher)
  // Scale up while the standby takes over: the new pods are placed once each.
  await watcher.scaleJob('web', 8)
  await waitFor('a new ResMan', async () => { const now = await holder(watcher, 'resman'); return now !== undefined && now !== resman })
  await waitFor('8 pods placed', async () => {
    const now = await placements(watcher)
    const pods = now.map(each => each.pod)
    t.is(new Set(pods).size, pods.length, `no pod placed twice: ${pods.join(' ')}`)
    return now.filter(each => !resmanNode?.stdout.includes(each.node)).length >= 8 || now.length >= 8
  })
  t.true(before.length >= 6)
  await allServing(watcher, 'web', 90_000)
})

needsCgroups('a spec that is not valid changes nothing; a job that does not fit says which filter excluded how many nodes', async t => {
  const cluster = await startCluster(t)
  const client = cluster.client('n3')
  const bad = await t.throwsAsync(client.submitJob({ spec: webSpec({ replica: -1 }) }))
  t.regex(bad?.message ?? '', /replica: must be between 0 and 10000/)
  t.deepEqual((await client.jobs()).jobs, [])
  t.deepEqual((await client.list('galaxy/')).items.filter(item => !item.key.startsWith('galaxy/nodes/')), [], 'nothing written')

  await client.submitJob({ spec: webSpec({ name: 'huge', replica: 2, cpu: '1000' }) })
  const status = await waitFor('unplaced pods', async () => {
    const now = await client.job('huge')
    return now.unplaced !== null ? now : false
  })
  t.is(status.unplaced?.pods, 2)
  t.is(status.unplaced?.excluded.cpu, 3, 'cpu excluded the three nodes')
  t.deepEqual(status.pods, [])
})
