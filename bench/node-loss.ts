// Measures how fast a job heals after a node is lost (issue 6): on a three-node local cluster
// (three `galaxy up` processes on 127.0.0.1, all seeds with every role, `--reserve
// cpu=0,memory=0,disk=0`, failure detection `--suspect-after 1s --dead-after 3s --reschedule-after
// 10s`, as root on cgroups; from source with tsx, or the executable given with --galaxy), a job of
// N pods (default 30) runs and serves; then one node that is not the Raft leader is killed with
// SIGKILL, and the bench measures, polling every 100 ms through a survivor, from the kill until
// every pod of the job is running and healthy at the current version on a live node. On the way it
// records when the survivor's gossip saw the victim suspect and dead, when the AppMaster moved (when
// the victim held it), when the lost pods were placed again, and whether any pod on a survivor was
// restarted or moved. Then the victim is restarted on its data dir (its agent destroys the
// containers whose placements are gone: until then they keep running, as the AppWorkers outlive
// their node by design), the job is removed, and the next run starts on a new job.
//
// Goal (issue 6): kill → every pod serving again ≤ reschedule-after + 5 s. (Kubernetes' defaults
// evict the pods of an unreachable node after node-monitor-grace-period, 40 s or 50 s in recent
// releases, + the default tolerationSeconds of 300 s for node.kubernetes.io/unreachable: over
// five and a half minutes.)
//
// Usage: node --import tsx bench/node-loss.ts [--pods 30] [--runs 3] [--reschedule-after 10]
//        [--victim plain,appmaster,resman] [--cpu 10m] [--quota] [--galaxy PATH] [--poll 100]
// `--victim plain,appmaster,resman` (the default) says which node each run kills, in turn: one that
// holds neither the job's AppMaster nor the ResMan, the AppMaster's, the ResMan's (the AppMaster
// and the ResMan may share a node; the summary says what the victim held). The victim is never the
// Raft leader: when it leads, leadership is first transferred to another seed
// (`POST /v1/operator/raft/transfer-leader`). The task is `python3 -m http.server` with a TCP health
// check every 500 ms (failures 1), cpu 10m with burst, memory 32MB, as in bench/job-start.ts.
// Prints a human summary and, last, one line of JSON. Needs root and writable cgroup controllers.
import { existsSync, readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { NodeId } from '../src/lib/ids.js'
import { cgroupParentOf } from '../src/node/agent/node-agent.js'
import { ApiClient } from '../src/node/api/client.js'
import type { JobStatusBody } from '../src/node/api/job-wire.js'
import { cleanUpOnce, describeMachine, logNodeProblems, cmdline, foreignGalaxyProcesses, pids, startThreeNodes, waitAllContainersGone } from './bench-cluster.js'
import { ProcessCluster, sleep } from '../test/helpers/galaxy-process.js'
import { detectIsolation } from '../src/runtime/container/isolation.js'
import { waitFor } from '../test/helpers/wait-for.js'

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '30' },
    runs: { type: 'string', default: '3' },
    'reschedule-after': { type: 'string', default: '10' },
    victim: { type: 'string', default: 'plain,appmaster,resman' },
    cpu: { type: 'string', default: '10m' },
    quota: { type: 'boolean', default: false },
    galaxy: { type: 'string' },
    poll: { type: 'string', default: '100' }
  }
})
const podCount = Number(values.pods)
const runCount = Number(values.runs)
const rescheduleAfterMs = Number(values['reschedule-after']) * 1000
const pollMs = Number(values.poll)
const victimKinds = values.victim.split(',')
if (!Number.isSafeInteger(podCount) || podCount < 1) throw new Error(`--pods must be a positive integer, not ${values.pods}`)
if (!Number.isSafeInteger(runCount) || runCount < 1) throw new Error(`--runs must be a positive integer, not ${values.runs}`)
if (!(rescheduleAfterMs >= 3000)) throw new Error(`--reschedule-after must be at least 3 (s; the dead timeout is 3 s), not ${values['reschedule-after']}`)
if (victimKinds.some(kind => !['plain', 'appmaster', 'resman'].includes(kind))) throw new Error(`--victim must list plain, appmaster or resman, not ${values.victim}`)
const galaxyPath = values.galaxy === undefined ? undefined : values.galaxy.startsWith('/') ? values.galaxy : join(process.cwd(), values.galaxy)
if (galaxyPath !== undefined && !existsSync(galaxyPath)) throw new Error(`${galaxyPath} does not exist (build one with node scripts/build.mjs --out DIR)`)

/** Named bounds of the bench. */
const limits = {
  clusterMs: 60_000,
  servingMs: 300_000,
  healMs: 120_000,
  restartCleanMs: 60_000,
  removeMs: 120_000,
  stopMs: 20_000,
  requestMs: 5000
} as const
const goalMs = rescheduleAfterMs + 5000
const flags = ['--suspect-after', '1s', '--dead-after', '3s', '--reschedule-after', `${rescheduleAfterMs / 1000}s`, '--reserve', 'cpu=0,memory=0,disk=0']

const isolation = await detectIsolation()
if (isolation.level !== 'full') {
  console.error(`this bench needs root and writable cgroups: ${isolation.reasons.join('; ')}`)
  process.exit(2)
}

let cluster: ProcessCluster | undefined
const nodeIds = new Map<string, NodeId>()

function log (line: string): void {
  console.error(`[${new Date().toISOString().slice(11, 23)}] ${line}`)
}

function jobSpec (name: string, replica: number): string {
  return JSON.stringify({
    name,
    replica,
    stopTimeout: '5s',
    pod: {
      tasks: [{
        name: 'server',
        cpu: values.cpu,
        burst: !values.quota,
        memory: '32MB',
        ports: [{ name: 'http' }],
        start: 'exec python3 -m http.server "$GALAXY_PORT_HTTP" --bind 127.0.0.1',
        health: { port: 'http', interval: '500ms', timeout: '1s', failures: 1 }
      }],
      services: [{ name: 'http', port: 'http' }]
    }
  })
}

async function startCluster (): Promise<ProcessCluster> {
  return await startThreeNodes({ galaxy: galaxyPath, flags, withinMs: limits.clusterMs, nodeIds, onCreated: created => { cluster = created } })
}

function nameOf (id: string | null): string | undefined {
  return [...nodeIds].find(([, each]) => each === id)?.[0]
}

// ---------------------------------------------------------------------------------------------
// Measuring helpers

interface Summary { readonly count: number, readonly p50: number, readonly max: number, readonly min: number }

function summarize (xs: readonly number[]): Summary {
  const sorted = [...xs].sort((a, b) => a - b)
  return { count: sorted.length, p50: sorted[Math.max(0, Math.ceil(0.5 * sorted.length) - 1)] ?? NaN, max: sorted.at(-1) ?? NaN, min: sorted[0] ?? NaN }
}

const round = (x: number | undefined): number | null => x === undefined || Number.isNaN(x) ? null : Math.round(x)
const ms = (x: number | undefined): string => x === undefined || Number.isNaN(x) ? 'n/a' : `${Math.round(x).toLocaleString('en')} ms`

/** Busy and total jiffies of the whole machine (/proc/stat). */
function machineBusyJiffies (): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields
  return user + nice + system + irq + softirq + steal
}

function load (): string {
  return loadavg().map(x => x.toFixed(2)).join(' ')
}

function servingPod (status: JobStatusBody, pod: JobStatusBody['pods'][number]): boolean {
  return pod.status !== null && pod.status.version === status.job.current.podVersion && pod.status.phase === 'running' && pod.status.healthy
}

// ---------------------------------------------------------------------------------------------
// One run

interface RunResult {
  readonly job: string
  readonly pods: number
  readonly startMs: number
  readonly leader: string
  readonly victim: string
  readonly kind: string
  readonly victimHadAppMaster: boolean
  readonly victimHadResMan: boolean
  readonly lostPods: number
  readonly suspectMs: number | undefined
  readonly deadMs: number | undefined
  readonly appMasterMovedMs: number | undefined
  readonly firstReplacedMs: number | undefined
  readonly allPlacedMs: number | undefined
  readonly healedMs: number
  readonly lostPodServing: Summary
  readonly keptPods: number
  readonly keptRestartedOrMoved: number
  readonly keptEverNotServing: number
  readonly mostPodsOnLiveNodes: number
  readonly pollErrors: number
  readonly restartCleanMs: number
  readonly removeMs: number
  readonly loadBefore: string
  readonly loadAfter: string
  /** Cores busy on the whole machine from the kill until healed. */
  readonly machineCores: number
  /** What the survivors logged of the ResMan's and AppMaster's moves, relative to the kill. */
  readonly events: readonly string[]
}

async function resmanHolder (client: ApiClient): Promise<string | undefined> {
  const kv = (await client.get('\u0000lock/resman')).kv
  return kv === null ? undefined : Buffer.from(kv.value, 'base64').toString()
}

async function run (c: ProcessCluster, index: number): Promise<RunResult> {
  const name = `loss-${index}`
  const submitter = c.client('n1', limits.requestMs)
  log(`run ${index}: submitting ${name}, ${podCount} pods (load ${load()})`)
  const submitAt = performance.now()
  await submitter.submitJob({ spec: jobSpec(name, podCount) })
  const ready = await waitFor(`every pod of ${name} serving`, async () => {
    const status = await submitter.job(name)
    return status.job.state === 'running' && status.pods.length === podCount && status.pods.every(pod => servingPod(status, pod)) ? status : false
  }, limits.servingMs, 100)
  const startMs = performance.now() - submitAt
  log(`run ${index}: all ${podCount} serving after ${ms(startMs)}; per node ${JSON.stringify(Object.fromEntries([...c.nodes.keys()].map(n => [n, ready.pods.filter(pod => pod.nodeName === n).length])))}; AppMaster on ${nameOf(ready.appMaster)}`)
  // Settle a little: the ResMan and the AppMaster have seen every pod steady.
  await sleep(2000)

  // Which node to kill: never the Raft leader (leadership is handed to another seed when the
  // chosen node leads); `plain` holds neither the job's AppMaster nor the ResMan, `appmaster` holds
  // the AppMaster (and not the ResMan, where they are on different nodes), `resman` the ResMan.
  const kind = victimKinds[(index - 1) % victimKinds.length] ?? 'plain'
  const appMasterName = nameOf((await submitter.job(name)).appMaster)
  const resmanName = nameOf(await resmanHolder(submitter).then(holder => [...nodeIds.values()].find(id => holder?.includes(id)) ?? null, () => null))
  const names = [...c.nodes.keys()]
  const victimName = kind === 'appmaster'
    ? appMasterName ?? ''
    : kind === 'resman'
      ? resmanName ?? ''
      : names.find(n => n !== appMasterName && n !== resmanName) ?? names.find(n => n !== appMasterName) ?? ''
  if (victimName === '') throw new Error(`run ${index}: no node to kill as ${kind} (AppMaster on ${appMasterName}, ResMan on ${resmanName})`)
  let leader = await c.leaderName('n1')
  if (leader === victimName) {
    const to = names.find(n => n !== victimName) ?? ''
    await c.client(leader, limits.requestMs).transferLeader(nodeIds.get(to))
    await c.waitStatus(to, status => status.leader !== null && status.leader.name !== victimName, limits.clusterMs)
    log(`run ${index}: moved the Raft leadership from ${victimName} to ${await c.leaderName(to)}, so that ${victimName} can be killed`)
    await sleep(1000)
    leader = await c.leaderName(to)
  }
  const victim = c.node(victimName)
  const victimId = nodeIds.get(victimName) ?? ''
  const survivorName = leader
  const observer = c.client(survivorName, limits.requestMs)
  const before = await observer.job(name)
  const holder = await resmanHolder(observer).catch(() => undefined)
  const victimHadResMan = holder !== undefined && holder.includes(victimId)
  const lost = before.pods.filter(pod => pod.nodeName === victimName)
  const kept = before.pods.filter(pod => pod.nodeName !== victimName)
  const victimHadAppMaster = before.appMaster === victimId
  log(`run ${index}: killing ${victimName} (leader ${leader}; AppMaster on ${appMasterName}; ResMan ${victimHadResMan ? 'on the victim' : 'elsewhere'}): ${lost.length} of ${podCount} pods`)

  const loadBefore = load()
  const busyBefore = machineBusyJiffies()
  const killWallMs = Date.now()
  const logFrom = new Map([...c.nodes.values()].map(node => [node.name, node.stderr.length]))
  const killAt = performance.now()
  await victim.kill()
  let suspectMs: number | undefined
  let deadMs: number | undefined
  let appMasterMovedMs: number | undefined
  let firstReplacedMs: number | undefined
  let allPlacedMs: number | undefined
  let healedMs: number | undefined
  let most = 0
  let pollErrors = 0
  const lostServing = new Map<string, number>()
  const keptNotServing = new Set<string>()
  const keptChanged = new Set<string>()
  for (let tick = 1; healedMs === undefined; tick++) {
    const [status, nodes] = await Promise.all([
      observer.job(name).catch(() => { pollErrors++; return undefined }),
      observer.nodes().catch(() => { pollErrors++; return undefined })
    ])
    const at = performance.now() - killAt
    const state = nodes?.nodes.find(node => node.id === victimId)?.state
    if (state === 'suspect' || state === 'dead') suspectMs ??= at
    if (state === 'dead') deadMs ??= at
    if (status !== undefined) {
      if (victimHadAppMaster && status.appMaster !== null && status.appMaster !== victimId) appMasterMovedMs ??= at
      const live = status.pods.filter(pod => pod.nodeName !== victimName && pod.node !== victimId)
      most = Math.max(most, live.length)
      const replaced = live.filter(pod => lost.some(gone => gone.pod === pod.pod))
      if (replaced.length > 0) firstReplacedMs ??= at
      if (replaced.length === lost.length) allPlacedMs ??= at
      for (const pod of replaced) if (servingPod(status, pod)) lostServing.set(pod.pod, lostServing.get(pod.pod) ?? at)
      for (const pod of kept) {
        const now = status.pods.find(each => each.pod === pod.pod)
        if (now === undefined || !servingPod(status, now)) keptNotServing.add(pod.pod)
        if (now !== undefined && (now.container !== pod.container || (now.status?.restarts ?? 0) > 0)) keptChanged.add(pod.pod)
      }
      if (live.length === status.job.replica && live.every(pod => servingPod(status, pod))) healedMs = at
    }
    if (at > limits.healMs) throw new Error(`${name}: not healed within ${limits.healMs} ms of the kill: ${JSON.stringify({ suspectMs, deadMs, appMasterMovedMs, firstReplacedMs, allPlacedMs, serving: lostServing.size, lost: lost.length, unplaced: status?.unplaced })}`)
    if (healedMs !== undefined) break
    const next = killAt + tick * pollMs
    if (next > performance.now()) await sleep(next - performance.now())
    else tick = Math.ceil((performance.now() - killAt) / pollMs)
  }
  const loadAfter = load()
  const machineCores = Number(((machineBusyJiffies() - busyBefore) / 100 / ((performance.now() - killAt) / 1000)).toFixed(2))
  log(`run ${index}: healed ${ms(healedMs)} after the kill (suspect ${ms(suspectMs)}, dead ${ms(deadMs)}, AppMaster moved ${ms(appMasterMovedMs)}, first lost pod placed ${ms(firstReplacedMs)}, all placed ${ms(allPlacedMs)})`)

  // What the survivors logged about the roles that moved (pino JSON lines: time, msg).
  const events: string[] = []
  for (const node of c.nodes.values()) {
    if (node === victim) continue
    for (const text of node.stderr.slice(logFrom.get(node.name) ?? 0).split('\n')) {
      try {
        const entry = JSON.parse(text) as { time?: number | string, msg?: string, waitedMs?: number, reported?: number, agents?: number }
        if (!['resman is active', 'resman left safe mode', 'appmaster took a job', 'unplacing a container'].includes(entry.msg ?? '')) continue
        if (entry.msg === 'unplacing a container' && events.some(e => e.includes('unplacing'))) continue
        const time = typeof entry.time === 'string' ? Date.parse(entry.time) : entry.time ?? NaN
        events.push(`${ms(time - killWallMs)} ${node.name}: ${entry.msg}${entry.waitedMs !== undefined ? ` (waited ${ms(entry.waitedMs)}, ${entry.reported} of ${entry.agents} agents reported)` : ''}`)
      } catch {}
    }
  }
  if (events.length > 0) log(`run ${index}: after the kill: ${events.join('; ')}`)

  // The victim comes back on its data dir: its agent destroys the containers whose placements are gone.
  const restartAt = performance.now()
  await victim.start()
  const victimClient = victim.client(c.token, limits.requestMs)
  await waitFor(`${victimName}'s old containers gone`, async () => {
    const agent = await victimClient.agent()
    const stale = agent.containers.filter(container => lost.some(pod => pod.container === container.placement.container))
    const appWorkers = pids().filter(pid => { const cmd = cmdline(pid); return cmd.includes(' appworker ') && lost.some(pod => cmd.includes(`/containers/${pod.container} `)) })
    return stale.length === 0 && appWorkers.length === 0
  }, limits.restartCleanMs, 100)
  const restartCleanMs = performance.now() - restartAt
  log(`run ${index}: ${victimName} restarted; its ${lost.length} old containers gone ${ms(restartCleanMs)} after the restart`)

  const removeAt = performance.now()
  await observer.jobOperation(name, 'remove')
  await waitAllContainersGone(c, limits.removeMs, limits.requestMs)
  const removeMs = performance.now() - removeAt
  await c.waitStatus(survivorName, status => status.members.filter(member => member.suffrage === 'voter').length === 3 && status.health === 'healthy', limits.clusterMs)
  await waitFor('every node alive', async () => (await observer.nodes()).nodes.every(node => node.state === 'alive'), limits.clusterMs, 100)
  log(`run ${index}: ${name} removed, every container gone ${ms(removeMs)} after the remove; cluster healthy again`)

  return {
    job: name,
    pods: podCount,
    startMs,
    leader,
    victim: victimName,
    kind,
    victimHadAppMaster,
    victimHadResMan,
    lostPods: lost.length,
    suspectMs,
    deadMs,
    appMasterMovedMs,
    firstReplacedMs,
    allPlacedMs,
    healedMs: healedMs ?? NaN,
    lostPodServing: summarize([...lostServing.values()]),
    keptPods: kept.length,
    keptRestartedOrMoved: keptChanged.size,
    keptEverNotServing: keptNotServing.size,
    mostPodsOnLiveNodes: most,
    pollErrors,
    restartCleanMs,
    removeMs,
    loadBefore,
    loadAfter,
    machineCores,
    events
  }
}

// ---------------------------------------------------------------------------------------------
// Clean-up: remove jobs, wait for containers gone, stop the nodes (the leader first, so that it
// can hand over), then make sure nothing is left.

const cleanUp = cleanUpOnce(() => cluster, nodeIds, limits, log)

// ---------------------------------------------------------------------------------------------
// Main

const machine = describeMachine()
const results: RunResult[] = []
let failure: Error | undefined
let leftovers = { processes: 0, cgroups: 0, tempDir: false }
const loadAtStart = load()
let foreign = 0
try {
  log(`machine: ${machine}; load ${loadAtStart}`)
  const c = await startCluster()
  foreign = foreignGalaxyProcesses(c.root)
  log(`cluster up: ${[...nodeIds].map(([n, id]) => `${n}=${id} (cgroup ${cgroupParentOf(id)})`).join(' ')}; ${foreign} other galaxy processes on the machine`)
  for (let r = 1; r <= runCount; r++) results.push(await run(c, r))
} catch (error) {
  failure = error as Error
  log(`failed: ${failure.stack ?? failure.message}`)
  logNodeProblems(cluster, log)
} finally {
  leftovers = await cleanUp()
}

console.log(`\nNode loss on a three-node cluster: a job of ${podCount} pods of python3 -m http.server (TCP health check every 500 ms, cpu ${values.cpu}${values.quota ? ' as a hard quota' : ' with burst'}); --suspect-after 1s --dead-after 3s --reschedule-after ${rescheduleAfterMs / 1000}s; kill -9 of a node that is not the Raft leader; polled every ${pollMs} ms through the leader`)
console.log(`galaxy: ${galaxyPath ?? 'from source (node --import tsx src/cli/main.ts; the AppWorkers too)'}`)
console.log(`Machine: ${machine}; load average at start ${loadAtStart}; ${foreign} galaxy processes of others running`)
for (const r of results) {
  console.log(`\n${r.job}: all ${r.pods} serving ${ms(r.startMs)} after the submit; killed ${r.victim} (${r.kind}; leader ${r.leader}), ${r.lostPods} pods on it; it held the AppMaster: ${r.victimHadAppMaster ? 'yes' : 'no'}, the ResMan: ${r.victimHadResMan ? 'yes' : 'no'}`)
  console.log(`  kill → suspect ${ms(r.suspectMs)}, dead ${ms(r.deadMs)} (gossip, as the leader sees it)${r.victimHadAppMaster ? `; AppMaster on another node ${ms(r.appMasterMovedMs)}` : ''}`)
  console.log(`  kill → first lost pod placed again ${ms(r.firstReplacedMs)}, all ${r.lostPods} placed ${ms(r.allPlacedMs)}; each serving again: p50 ${ms(r.lostPodServing.p50)}, max ${ms(r.lostPodServing.max)}`)
  console.log(`  kill → every pod serving on live nodes: ${ms(r.healedMs)}   (goal ≤ ${ms(goalMs)}: ${r.healedMs <= goalMs ? 'met' : 'NOT met'})`)
  console.log(`  pods on survivors: ${r.keptPods}, restarted or moved ${r.keptRestartedOrMoved}, ever shown not serving ${r.keptEverNotServing}; at most ${r.mostPodsOnLiveNodes} pods on live nodes; ${r.pollErrors} poll errors; machine ${r.machineCores} cores busy until healed, load ${r.loadBefore} → ${r.loadAfter}`)
  if (r.events.length > 0) console.log(`  survivors' logs after the kill: ${r.events.join('; ')}`)
  console.log(`  victim restarted: its old containers gone ${ms(r.restartCleanMs)} after the restart; job removed, every container gone ${ms(r.removeMs)} after the remove`)
}
if (results.length > 1) {
  const healed = summarize(results.map(r => r.healedMs))
  console.log(`\nkill → healed over ${results.length} runs: median ${ms(healed.p50)}, min ${ms(healed.min)}, max ${ms(healed.max)} (goal ≤ ${ms(goalMs)})`)
}
console.log(`\nLeft behind: ${leftovers.processes} processes, ${leftovers.cgroups} cgroup dirs, temp dir ${leftovers.tempDir ? 'still there' : 'removed'}`)
if (failure !== undefined) console.log(`FAILED: ${failure.message}`)
console.log(JSON.stringify({
  bench: 'node-loss',
  machine,
  pods: podCount,
  rescheduleAfterMs,
  goalMs,
  cpu: values.cpu,
  cpuQuota: values.quota,
  galaxy: galaxyPath ?? 'source',
  pollMs,
  loadAtStart,
  foreignGalaxyProcesses: foreign,
  runs: results.map(r => ({
    ...r,
    startMs: round(r.startMs),
    suspectMs: round(r.suspectMs),
    deadMs: round(r.deadMs),
    appMasterMovedMs: round(r.appMasterMovedMs),
    firstReplacedMs: round(r.firstReplacedMs),
    allPlacedMs: round(r.allPlacedMs),
    healedMs: round(r.healedMs),
    lostPodServing: { count: r.lostPodServing.count, p50: round(r.lostPodServing.p50), max: round(r.lostPodServing.max), min: round(r.lostPodServing.min) },
    restartCleanMs: round(r.restartCleanMs),
    removeMs: round(r.removeMs)
  })),
  leftovers,
  failure: failure?.message ?? null
}))
process.exit(failure === undefined && leftovers.processes === 0 && leftovers.cgroups === 0 ? 0 : 1)
