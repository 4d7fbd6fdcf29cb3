// Measures how fast a job's pods start on a three-node local cluster (issue 6): three `galaxy up`
// processes on 127.0.0.1, all seeds with every role, `--reserve cpu=0,memory=0,disk=0`, as root on
// cgroups (started the way test/node/jobs.test.ts starts them, from source with tsx, or the
// executable given with --galaxy). A job of N pods of a tiny service is submitted through one
// node's API, which is then polled (`GET /v1/jobs/<job>`) every 100 ms, together with every node's
// `GET /v1/agent`: for each pod, the time from the submit until the job says it is `running` and
// healthy at the job's current pod version, and on the way until it is placed, its container made,
// its AppWorker started, its first pull, its task started, running. Then the job is removed and
// the bench waits until every agent's containers are gone, stops the nodes and checks that no
// process, cgroup or temp dir is left.
//
// Goal (issue 6): p99 per pod ≤ 2 s from submit to healthy. (Kubernetes' pod startup SLO: p99 ≤
// 5 s from a schedulable stateless pod's creation until all its containers are reported started,
// observed via watch, images already pulled; that is this bench's "running", not "healthy".)
//
// Usage: node --import tsx bench/job-start.ts [--pods 100] [--runs 1] [--task http|sleep]
//        [--cpu 10m] [--quota] [--galaxy PATH] [--poll 100] [--timeout 600] [--trace]
// `--task http` (the default): `python3 -m http.server` on a dynamic port with a TCP health check
// every 500 ms (failures 1), memory 32MB; `--task sleep`: `exec sleep 1000000`, no port and no
// health check. `--cpu` is the task's cpu, by default with `burst` (a weight that may use idle
// cores); `--quota` makes it a hard CFS quota (10m is 1 ms per 100 ms: python then needs about 9 s
// to start listening). `--galaxy dist/galaxy` runs the single executable instead of the source
// (`node scripts/build.mjs --out DIR` builds one). `--trace` logs every change of pod 0 as its
// agent reports it. Each run submits a new job (`start-<run>`) and removes it.
// Prints a human summary and, last, one line of JSON. Needs root and writable cgroup controllers.
import { existsSync, readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { NodeId } from '../src/lib/ids.js'
import { cgroupParentOf } from '../src/node/agent/node-agent.js'
import type { JobStatusBody } from '../src/node/api/job-wire.js'
import { cleanUpOnce, describeMachine, logNodeProblems, clusterProcesses, foreignGalaxyProcesses, startThreeNodes, waitAllContainersGone } from './bench-cluster.js'
import { ProcessCluster, sleep } from '../test/helpers/galaxy-process.js'
import { detectIsolation } from '../src/runtime/container/isolation.js'
import { cpuTimeMs as processCpuMs } from './proc-cpu.js'

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '100' },
    runs: { type: 'string', default: '1' },
    task: { type: 'string', default: 'http' },
    poll: { type: 'string', default: '100' },
    timeout: { type: 'string', default: '600' },
    cpu: { type: 'string', default: '10m' },
    quota: { type: 'boolean', default: false },
    galaxy: { type: 'string' },
    trace: { type: 'boolean', default: false }
  }
})
const podCount = Number(values.pods)
const runCount = Number(values.runs)
const pollMs = Number(values.poll)
const timeoutMs = Number(values.timeout) * 1000
const taskKind = values.task
const galaxyPath = values.galaxy === undefined ? undefined : values.galaxy.startsWith('/') ? values.galaxy : join(process.cwd(), values.galaxy)
if (galaxyPath !== undefined && !existsSync(galaxyPath)) throw new Error(`${galaxyPath} does not exist (build one with node scripts/build.mjs --out DIR)`)
if (!Number.isSafeInteger(podCount) || podCount < 1) throw new Error(`--pods must be a positive integer, not ${values.pods}`)
if (!Number.isSafeInteger(runCount) || runCount < 1) throw new Error(`--runs must be a positive integer, not ${values.runs}`)
if (taskKind !== 'http' && taskKind !== 'sleep') throw new Error(`--task must be http or sleep, not ${taskKind}`)

/** Named bounds of the bench. */
const limits = {
  clusterMs: 60_000,
  removeMs: 120_000,
  stopMs: 20_000,
  requestMs: 10_000
} as const
const goalP99Ms = 2000
const kubernetesSloMs = 5000
const flags = ['--suspect-after', '1s', '--dead-after', '3s', '--reschedule-after', '10s', '--reserve', 'cpu=0,memory=0,disk=0']

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
  const task = taskKind === 'http'
    ? {
        name: 'server',
        cpu: values.cpu,
        burst: !values.quota,
        memory: '32MB',
        ports: [{ name: 'http' }],
        start: 'exec python3 -m http.server "$GALAXY_PORT_HTTP" --bind 127.0.0.1',
        health: { port: 'http', interval: '500ms', timeout: '1s', failures: 1 }
      }
    : { name: 'idle', cpu: values.cpu, burst: !values.quota, memory: '32MB', start: 'exec sleep 1000000' }
  return JSON.stringify({
    name,
    replica,
    stopTimeout: '5s',
    pod: { tasks: [task], ...(taskKind === 'http' ? { services: [{ name: 'http', port: 'http' }] } : {}) }
  })
}

async function startCluster (): Promise<ProcessCluster> {
  return await startThreeNodes({ galaxy: galaxyPath, flags, withinMs: limits.clusterMs, nodeIds, onCreated: created => { cluster = created } })
}

// ---------------------------------------------------------------------------------------------
// Measuring helpers

interface Summary { readonly count: number, readonly p50: number, readonly p90: number, readonly p99: number, readonly max: number, readonly min: number, readonly mean: number }

/** Nearest-rank quantiles: p99 of 100 values is the 99th smallest. */
function summarize (xs: readonly number[]): Summary {
  const sorted = [...xs].sort((a, b) => a - b)
  const rank = (q: number): number => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN
  return {
    count: sorted.length,
    p50: rank(0.5),
    p90: rank(0.9),
    p99: rank(0.99),
    max: sorted.at(-1) ?? NaN,
    min: sorted[0] ?? NaN,
    mean: sorted.reduce((sum, x) => sum + x, 0) / Math.max(1, sorted.length)
  }
}

const round = (x: number): number => Math.round(x)
const ms = (x: number): string => Number.isNaN(x) ? 'n/a' : `${Math.round(x).toLocaleString('en')} ms`
const line = (s: Summary): string => `p50 ${ms(s.p50)}, p90 ${ms(s.p90)}, p99 ${ms(s.p99)}, max ${ms(s.max)} (min ${ms(s.min)}, n ${s.count})`
const rounded = (s: Summary): Record<string, number> => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v)]))

/** Busy and total jiffies of the whole machine (/proc/stat). */
function machineCpu (): { busy: number, total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields
  return { busy: user + nice + system + irq + softirq + steal, total: user + nice + system + idle + iowait + irq + softirq + steal }
}

/** CPU time a process has used, in ms; 0 once it is gone. */
function cpuTimeMs (pid: number): number {
  return processCpuMs(pid) ?? 0
}

function rssBytes (pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? 0 : Number(match[1]) * 1024
  } catch {
    return 0
  }
}

function memAvailableBytes (): number {
  const match = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))
  return match === null ? NaN : Number(match[1]) * 1024
}

function load (): string {
  return loadavg().map(x => x.toFixed(2)).join(' ')
}

// ---------------------------------------------------------------------------------------------
// One run

interface PodTimes { placed?: number, heard?: number, running?: number, serving?: number, node?: string, container?: string, containers: Set<string> }

/** The same pod as its node's agent reports it (`GET /v1/agent`): the AppWorker's last pulled status. */
interface AgentTimes { container?: number, appWorker?: number, pulled?: number, taskStarted?: number, running?: number, healthy?: number }

interface RunResult {
  readonly job: string
  readonly pods: number
  readonly submitMs: number
  readonly placed: Summary
  readonly heard: Summary
  readonly running: Summary
  readonly serving: Summary
  readonly agent: { readonly container: Summary, readonly appWorker: Summary, readonly pulled: Summary, readonly taskStarted: Summary, readonly running: Summary, readonly healthy: Summary }
  readonly wholeJobMs: number
  readonly perNode: Record<string, number>
  readonly restarts: number
  readonly replacedContainers: number
  readonly pollMs: Summary
  readonly pollErrors: number
  readonly removeMs: number
  readonly cpu: { readonly machineCores: number, readonly nodesCores: number, readonly benchCores: number, readonly othersCores: number, readonly appWorkersCpuMs: number, readonly tasksCpuMs: number, readonly loadBefore: string, readonly loadAfter: string }
  readonly memory: { readonly nodesRssMiB: number, readonly appWorkersRssMiB: number, readonly appWorkerRssMiB: number, readonly tasksRssMiB: number, readonly memAvailableDropMiB: number }
}

function serving (status: JobStatusBody, pod: JobStatusBody['pods'][number]): boolean {
  return pod.status !== null && pod.status.version === status.job.current.podVersion && pod.status.phase === 'running' && pod.status.healthy
}

async function run (c: ProcessCluster, index: number): Promise<RunResult> {
  const name = `start-${index}`
  const client = c.client('n2', limits.requestMs)
  const root = c.root
  const memBefore = memAvailableBytes()
  const loadBefore = load()
  const nodePids = [...c.nodes.values()].map(node => node.pid)
  const nodesCpuBefore = nodePids.reduce((sum, pid) => sum + cpuTimeMs(pid), 0)
  const cpuBefore = machineCpu()
  const benchCpuBefore = process.cpuUsage()
  const times = new Map<string, PodTimes>()
  const agentTimes = new Map<string, AgentTimes>()
  let traced = ''
  const pollDurations: number[] = []
  let pollErrors = 0
  const agentClients = [...c.nodes.values()].map(node => node.client(c.token, limits.requestMs))

  log(`run ${index}: submitting ${name}, ${podCount} pods (load ${loadBefore})`)
  const submitAt = performance.now()
  const submitWallMs = Date.now()
  const submitted = await client.submitJob({ spec: jobSpec(name, podCount) })
  const submitMs = performance.now() - submitAt
  if (!submitted.created) throw new Error(`${name} was not created`)
  let last: JobStatusBody | undefined
  let lastReport = 0
  for (let tick = 1; ; tick++) {
    const asked = performance.now()
    let status: JobStatusBody | undefined
    const agentsPolled = Promise.all(agentClients.map(async agentClient => {
      const body = await agentClient.agent().catch(() => undefined)
      const seenAt = performance.now() - submitAt
      for (const container of body?.containers ?? []) {
        const pod = container.placement.pod as string
        if (!pod.startsWith(`${name}.`)) continue
        let entry = agentTimes.get(pod)
        if (entry === undefined) {
          entry = {}
          agentTimes.set(pod, entry)
        }
        entry.container ??= seenAt
        if (container.root !== undefined) entry.appWorker ??= seenAt
        const podStatus = container.status
        if (values.trace && pod === `${name}.0`) {
          const shape = JSON.stringify({ state: container.state, appWorker: container.root?.pid, status: podStatus === null ? null : { phase: podStatus.phase, healthy: podStatus.healthy, message: podStatus.message, tasks: podStatus.tasks.map(t => ({ phase: t.phase, pid: t.pid, health: t.health, message: t.message, restarts: t.restarts })) } })
          if (shape !== traced) log(`trace ${pod} at ${ms(seenAt)}: ${shape}`)
          traced = shape
        }
        if (podStatus === null) continue
        entry.pulled ??= seenAt
        const started = podStatus.tasks[0]?.startedAtMs ?? 0
        if (started > 0) entry.taskStarted ??= started - submitWallMs
        if (podStatus.phase === 'running') entry.running ??= seenAt
        if (podStatus.phase === 'running' && podStatus.healthy) entry.healthy ??= seenAt
      }
    }))
    try {
      status = await client.job(name)
    } catch (error) {
      pollErrors++
      log(`poll: ${(error as Error).message}`)
    }
    const now = performance.now()
    pollDurations.push(now - asked)
    await agentsPolled
    const at = now - submitAt
    if (status !== undefined) {
      last = status
      for (const pod of status.pods) {
        let entry = times.get(pod.pod)
        if (entry === undefined) {
          entry = { containers: new Set() }
          times.set(pod.pod, entry)
        }
        entry.placed ??= at
        entry.node = pod.nodeName
        entry.container = pod.container
        entry.containers.add(pod.container)
        if (pod.status !== null) entry.heard ??= at
        if (pod.status !== null && pod.status.version === status.job.current.podVersion && pod.status.phase === 'running') entry.running ??= at
        if (serving(status, pod)) entry.serving ??= at
      }
      const done = [...times.values()].filter(entry => entry.serving !== undefined).length
      if (at - lastReport > 5000) {
        lastReport = at
        log(`  ${(at / 1000).toFixed(1)} s: ${status.pods.length} placed, ${done} serving (load ${load()})`)
      }
      const servingNow = status.pods.filter(pod => serving(status as JobStatusBody, pod)).length
      if (status.pods.length === podCount && servingNow === podCount && done === podCount) break
    }
    if (at > timeoutMs) throw new Error(`${name}: not all pods serving within ${timeoutMs} ms: ${last?.pods.length ?? 0} placed, ${[...times.values()].filter(entry => entry.serving !== undefined).length} serving; unplaced ${JSON.stringify(last?.unplaced)}`)
    const next = submitAt + tick * pollMs
    if (next > performance.now()) await sleep(next - performance.now())
    else tick = Math.ceil((performance.now() - submitAt) / pollMs)
  }
  const wholeJobMs = Math.max(...[...times.values()].map(entry => entry.serving ?? NaN))
  const cpuAfter = machineCpu()
  const benchCpu = process.cpuUsage(benchCpuBefore)
  const nodesCpuAfter = nodePids.reduce((sum, pid) => sum + cpuTimeMs(pid), 0)
  const loadAfter = load()
  const phaseSeconds = (performance.now() - submitAt) / 1000
  // What the AppWorkers and tasks cost: they all started during this phase.
  const processes = clusterProcesses(root, nodeIds)
  const appWorkers = processes.filter(p => p.kind === 'appworker')
  const tasks = processes.filter(p => p.kind === 'task')
  const memory = {
    nodesRssMiB: round(nodePids.reduce((sum, pid) => sum + rssBytes(pid), 0) / 2 ** 20),
    appWorkersRssMiB: round(appWorkers.reduce((sum, p) => sum + rssBytes(p.pid), 0) / 2 ** 20),
    appWorkerRssMiB: round(appWorkers.reduce((sum, p) => sum + rssBytes(p.pid), 0) / Math.max(1, appWorkers.length) / 2 ** 20),
    tasksRssMiB: round(tasks.reduce((sum, p) => sum + rssBytes(p.pid), 0) / 2 ** 20),
    memAvailableDropMiB: round((memBefore - memAvailableBytes()) / 2 ** 20)
  }
  const machineCores = (cpuAfter.busy - cpuBefore.busy) / 100 / phaseSeconds
  const nodesCores = (nodesCpuAfter - nodesCpuBefore) / 1000 / phaseSeconds
  const benchCores = (benchCpu.user + benchCpu.system) / 1e6 / phaseSeconds
  const appWorkersCpuMs = appWorkers.reduce((sum, p) => sum + cpuTimeMs(p.pid), 0)
  const tasksCpuMs = tasks.reduce((sum, p) => sum + cpuTimeMs(p.pid), 0)
  const cpu = {
    machineCores: Number(machineCores.toFixed(2)),
    nodesCores: Number(nodesCores.toFixed(2)),
    benchCores: Number(benchCores.toFixed(2)),
    // Everything else: other people's work on the machine, and short-lived helpers of ours (an upper bound).
    othersCores: Number(Math.max(0, machineCores - nodesCores - benchCores - (appWorkersCpuMs + tasksCpuMs) / 1000 / phaseSeconds).toFixed(2)),
    appWorkersCpuMs,
    tasksCpuMs,
    loadBefore,
    loadAfter
  }
  const final = last as JobStatusBody
  const perNode: Record<string, number> = {}
  for (const pod of final.pods) perNode[pod.nodeName] = (perNode[pod.nodeName] ?? 0) + 1
  const restarts = final.pods.reduce((sum, pod) => sum + (pod.status?.restarts ?? 0), 0)
  const replacedContainers = [...times.values()].reduce((sum, entry) => sum + entry.containers.size - 1, 0)
  log(`run ${index}: all ${podCount} serving ${ms(wholeJobMs)} after the submit; ${appWorkers.length} AppWorkers, ${tasks.length} task processes`)

  // Remove the job and wait until no agent holds a container.
  const removeAt = performance.now()
  await client.jobOperation(name, 'remove')
  await waitAllContainersGone(c, limits.removeMs, limits.requestMs)
  const removeMs = performance.now() - removeAt
  log(`run ${index}: removed, every container gone ${ms(removeMs)} after the remove`)

  const pick = (key: 'placed' | 'heard' | 'running' | 'serving'): Summary => summarize([...times.values()].map(entry => entry[key] ?? NaN).filter(x => !Number.isNaN(x)))
  const pickAgent = (key: keyof AgentTimes): Summary => summarize([...agentTimes.values()].map(entry => entry[key] ?? NaN).filter(x => !Number.isNaN(x)))
  return {
    job: name,
    pods: podCount,
    submitMs,
    placed: pick('placed'),
    heard: pick('heard'),
    running: pick('running'),
    serving: pick('serving'),
    agent: { container: pickAgent('container'), appWorker: pickAgent('appWorker'), pulled: pickAgent('pulled'), taskStarted: pickAgent('taskStarted'), running: pickAgent('running'), healthy: pickAgent('healthy') },
    wholeJobMs,
    perNode,
    restarts,
    replacedContainers,
    pollMs: summarize(pollDurations),
    pollErrors,
    removeMs,
    cpu,
    memory
  }
}

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
  log(`machine: ${machine}; load ${loadAtStart}; MemAvailable ${(memAvailableBytes() / 2 ** 30).toFixed(1)} GiB`)
  const c = await startCluster()
  foreign = foreignGalaxyProcesses(c.root)
  log(`cluster up: ${[...nodeIds].map(([n, id]) => `${n}=${id} (cgroup ${cgroupParentOf(id)})`).join(' ')}; leader ${await c.leaderName('n1')}; ${foreign} other galaxy processes on the machine`)
  for (let r = 1; r <= runCount; r++) results.push(await run(c, r))
} catch (error) {
  failure = error as Error
  log(`failed: ${failure.stack ?? failure.message}`)
  logNodeProblems(cluster, log)
} finally {
  leftovers = await cleanUp()
}

console.log(`\nJob start on a three-node cluster: ${podCount} pods of ${taskKind === 'http' ? 'python3 -m http.server with a TCP health check every 500 ms' : 'exec sleep 1000000 (no health check)'}, cpu ${values.cpu} ${values.quota ? 'as a hard CFS quota' : 'with burst (a weight that may use idle cores)'}, memory 32MB; polled every ${pollMs} ms`)
console.log(`galaxy: ${galaxyPath ?? 'from source (node --import tsx src/cli/main.ts; the AppWorkers too)'}`)
console.log(`Machine: ${machine}; load average at start ${loadAtStart}; ${foreign} galaxy processes of others running`)
for (const r of results) {
  console.log(`\n${r.job}: submit call ${ms(r.submitMs)}; pods per node ${JSON.stringify(r.perNode)}; restarts ${r.restarts}; replaced containers ${r.replacedContainers}`)
  console.log('  as the nodes\' agents report the pods (GET /v1/agent, polled with the job):')
  console.log(`    submit → container made:       ${line(r.agent.container)}`)
  console.log(`    submit → AppWorker started:    ${line(r.agent.appWorker)}`)
  console.log(`    submit → AppWorker's 1st pull: ${line(r.agent.pulled)}`)
  console.log(`    submit → task started:         ${line(r.agent.taskStarted)}   (the task's own startedAtMs, wall clock)`)
  console.log(`    submit → running:              ${line(r.agent.running)}`)
  console.log(`    submit → running and healthy:  ${line(r.agent.healthy)}`)
  console.log('  as the job reports them (GET /v1/jobs/<job>, the AppMaster\'s pod records):')
  console.log(`  submit → placed:   ${line(r.placed)}`)
  console.log(`  submit → reported: ${line(r.heard)}`)
  console.log(`  submit → running:  ${line(r.running)}   (Kubernetes' startup SLO, to containers started: p99 ≤ ${ms(kubernetesSloMs)}: ${r.running.p99 <= kubernetesSloMs ? 'met' : 'NOT met'})`)
  console.log(`  submit → healthy:  ${line(r.serving)}   (goal p99 ≤ ${ms(goalP99Ms)}: ${r.serving.p99 <= goalP99Ms ? 'met' : 'NOT met'})`)
  console.log(`  whole job (submit → last pod healthy): ${ms(r.wholeJobMs)}; remove → every container gone: ${ms(r.removeMs)}`)
  console.log(`  poll request: ${line(r.pollMs)}; ${r.pollErrors} errors`)
  console.log(`  CPU during the start: machine ${r.cpu.machineCores} cores busy: the three nodes ${r.cpu.nodesCores} cores, this bench ${r.cpu.benchCores}, anything else ${r.cpu.othersCores} (other people's work, our short-lived helpers); AppWorkers ${r.cpu.appWorkersCpuMs} ms in all, tasks ${r.cpu.tasksCpuMs} ms; load ${r.cpu.loadBefore} → ${r.cpu.loadAfter}`)
  console.log(`  memory with all serving: nodes ${r.memory.nodesRssMiB} MiB RSS, AppWorkers ${r.memory.appWorkersRssMiB} MiB RSS (${r.memory.appWorkerRssMiB} each), tasks ${r.memory.tasksRssMiB} MiB; MemAvailable dropped ${r.memory.memAvailableDropMiB} MiB`)
}
console.log(`\nLeft behind: ${leftovers.processes} processes, ${leftovers.cgroups} cgroup dirs, temp dir ${leftovers.tempDir ? 'still there' : 'removed'}`)
if (failure !== undefined) console.log(`FAILED: ${failure.message}`)
console.log(JSON.stringify({
  bench: 'job-start',
  machine,
  pods: podCount,
  task: taskKind,
  cpu: values.cpu,
  cpuQuota: values.quota,
  galaxy: galaxyPath ?? 'source',
  pollMs,
  loadAtStart,
  foreignGalaxyProcesses: foreign,
  runs: results.map(r => ({ ...r, submitMs: round(r.submitMs), wholeJobMs: round(r.wholeJobMs), removeMs: round(r.removeMs), placed: rounded(r.placed), heard: rounded(r.heard), running: rounded(r.running), serving: rounded(r.serving), agent: Object.fromEntries(Object.entries(r.agent).map(([k, v]) => [k, rounded(v)])), pollMs: rounded(r.pollMs) })),
  leftovers,
  failure: failure?.message ?? null
}))
process.exit(failure === undefined && leftovers.processes === 0 && leftovers.cgroups === 0 ? 0 : 1)
