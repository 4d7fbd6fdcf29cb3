// galaxy's replicated store against etcd 3.4, in one run, on one machine: three members on
// 127.0.0.1 for each system, the same client (Node `http`, keep-alive agents), the same keys and
// 256-byte values:
//
//   - sequential puts, 1 client, to the leader and through a follower: p50, p99, puts/s;
//   - 64 closed-loop clients over a few keep-alive connections spread over the three members, and
//     over the same number of connections to the leader only: puts/s, p99 (HTTP/1.1 has one
//     request in flight per connection, so the connection count bounds the concurrency the
//     members see; --connections 9,64 measures both a few and one per client);
//   - `kill -9` of the leader → the first write accepted after the kill (a put every 10 ms to the
//     two survivors alternately, 1.5 s timeout each), as ../shared/reference/raft.md §4.3 and
//     Appendix B measured etcd; the killed member restarts on its data dir and catches up between
//     iterations;
//   - the same with SIGSTOP instead (--stops): the leader hangs with its connections open, as a
//     frozen host or a partition looks to the others, so no one can tell it is gone but by its
//     silence; it is continued once a survivor took a write;
//   - the resident set (VmRSS, and its anonymous and file-backed parts) and CPU of each member of
//     a fresh cluster while it idles. As root, the page cache is emptied before the members start
//     (--keep-page-cache: not), since how much of its own executable a process maps depends on it.
//
// Both clusters run side by side for the whole run; each load row runs on one while the other
// idles, and rows and kills alternate between the systems, so that other work on a shared machine
// falls on both alike; before a row, the idle system settles after its own last load (see
// `settleAfterLoadMs`). Each load row runs --repeats times per system (galaxy and etcd in turn,
// which one goes first alternating); the table shows the median of the repeats, the details each,
// with the CPU every process used in the row (and each member's main thread: galaxy's event loop),
// the MiB each member had written to storage and the pages it had to read back in. The sequential
// rows take the two systems in turns of 2 s windows within each repeat
// (`pairedWindowMs`), and the report compares them turn by turn as well.
// Before the first row, each system runs in: --run-in-seconds of 64 clients over all its members,
// not counted, so that the first row does not measure servers (and a machine) still warming up;
// and again before the aged rows, since the kills restarted members that warm up anew.
// After the kills, both stores are filled to --aged-writes acknowledged writes (past galaxy's
// 100,000 events of watch history) and the main rows are measured again.
//
// galaxy: `galaxy up` processes (dist/galaxy, rebuilt with scripts/build.mjs when older than the
// sources, or --galaxy PATH), puts as `PUT /v1/kv/<key>` `{"value": base64}` with the admin
// token. etcd: members started like raft.md's cluster.sh (pre-vote on), puts as
// `POST /v3/kv/put` on its JSON gateway; installed with apt-get when `etcd` is not on PATH. Both
// use a 100 ms heartbeat, a 1 s election timeout and pre-vote (galaxy also check-quorum).
//
// Usage: node --import tsx bench/store-vs-etcd.ts [--seconds 10] [--repeats 3] [--failovers 5]
//          [--stops 5] [--aged-writes 120000 (0: skip)] [--fill-seconds 240] [--run-in-seconds 20]
//          [--idle-seconds 10] [--connections 9,64] [--clients 64] [--galaxy PATH]
//          [--systems etcd,galaxy] [--max-minutes 45] [--keep-logs] [--keep-page-cache]
// Progress goes to stderr, the Markdown result to stdout. Everything it starts is killed and its
// temp dir removed at the end, on error and on SIGINT/SIGTERM; the whole run aborts after
// --max-minutes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { nodeTimings } from '../src/node/cluster-node.js'
import { maxHistoryEvents } from '../src/store/key-store.js'

const root = join(import.meta.dirname, '..')
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    failovers: { type: 'string', default: '5' },
    stops: { type: 'string', default: '5' },
    repeats: { type: 'string', default: '3' },
    'idle-seconds': { type: 'string', default: '10' },
    connections: { type: 'string', default: '9,64' },
    clients: { type: 'string', default: '64' },
    galaxy: { type: 'string' },
    systems: { type: 'string', default: 'etcd,galaxy' },
    'aged-writes': { type: 'string', default: '120000' },
    'fill-seconds': { type: 'string', default: '240' },
    'run-in-seconds': { type: 'string', default: '20' },
    'max-minutes': { type: 'string', default: '45' },
    'keep-logs': { type: 'boolean', default: false },
    'keep-page-cache': { type: 'boolean', default: false }
  }
})
const seconds = Number(values.seconds)
const failovers = Number(values.failovers)
const stops = Number(values.stops)
const repeats = Number(values.repeats)
const idleSeconds = Number(values['idle-seconds'])
const clients = Number(values.clients)
const connectionCounts = values.connections.split(',').map(Number)
const systems = values.systems.split(',').map(name => name.trim()) as Array<'etcd' | 'galaxy'>
const maxMinutes = Number(values['max-minutes'])
const agedWrites = Number(values['aged-writes'])
const fillSeconds = Number(values['fill-seconds'])
const runInSeconds = Number(values['run-in-seconds'])
for (const [flag, value] of Object.entries({ seconds, failovers, stops, repeats, idleSeconds, clients, maxMinutes, agedWrites, fillSeconds, runInSeconds })) {
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${flag}: not a number`)
}
if (repeats < 1 || !Number.isInteger(repeats)) throw new Error('--repeats: a whole number of at least 1')

const valueBytes = 256
const value = Buffer.from('x'.repeat(valueBytes))
const valueBase64 = value.toString('base64')
/**
 * Each load row's uncounted warm-up: at least `warmupMs` and `warmupPuts` puts, at most
 * `warmupMaxMs`. A row measures a running server, not one just started: V8 compiles galaxy's hot
 * paths over its first few thousand requests (a fresh galaxy cluster's first 3,000 sequential puts
 * run at about 0.65 times the rate of its third 3,000); etcd, compiled ahead of time, loses nothing
 * by the wait.
 */
const warmupPuts = 5000
const warmupMs = 3000
const warmupMaxMs = 15_000
/**
 * The sequential rows measure both systems in turns of short windows: each repeat's `--seconds`
 * per system is made of windows of `pairedWindowMs`, the two systems' taken alternately (which one
 * goes first alternating too), each after an uncounted lead-in of `pairedLeadInMs` on its open
 * connection. One client's rate follows the machine, which drifts by a fifth or more within
 * minutes here (the same build 295–385 puts/s in one run's three repeats), so repeats of 10 s
 * taken one system after the other compared the machine's moments as much as the systems; with
 * 2 s turns both meet the same machine (two clusters of the same build came out 404 and 407
 * puts/s over 30 paired windows).
 */
const pairedWindowMs = 2000
const pairedLeadInMs = 300
/**
 * Before a load row, the systems idling through it settle: `settleAfterLoadMs` after their own
 * last load, then until their members together use less than `settledCpuShare` of a core over
 * `settleWindowMs`, for at most `settleMaxMs`. A system's work after a load (galaxy gives memory
 * back a few seconds after it goes idle: one garbage collection of its whole heap, up to a CPU-second
 * after the loaded rows) would otherwise fall into the other's measured window.
 */
const settleAfterLoadMs = 8000
const settleWindowMs = 1000
const settledCpuShare = 0.2
const settleMaxMs = 30_000
const probeEveryMs = 10
const probeTimeoutMs = 1500
const loadTimeoutMs = 10_000
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() ?? '100') || 100

const now = (): number => performance.now()
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const started = now()
const log = (message: string): void => { process.stderr.write(`[${((now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`) }

// ---- processes we started, and their cleanup ----

const children = new Set<ChildProcess>()
const scratch = mkdtempSync(join(tmpdir(), 'galaxy-store-vs-etcd-'))
let cleaned = false

async function cleanup (): Promise<void> {
  if (cleaned) return
  cleaned = true
  const running = [...children].filter(child => child.exitCode === null && child.signalCode === null)
  for (const child of running) child.kill('SIGKILL')
  await Promise.race([Promise.all(running.map(async child => { await exited(child) })), sleep(5000)])
  if (values['keep-logs']) {
    for (const system of ['etcd', 'galaxy']) {
      for (const entry of existsSync(join(scratch, system)) ? readdirSync(join(scratch, system)) : []) {
        if (entry !== 'logs') rmSync(join(scratch, system, entry), { recursive: true, force: true })
      }
    }
    log(`logs kept in ${scratch}`)
  } else {
    rmSync(scratch, { recursive: true, force: true })
  }
}

function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise(resolve => { child.once('exit', () => { resolve() }) })
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping everything`)
    void cleanup().finally(() => process.exit(130))
  })
}
const hardStop = setTimeout(() => {
  log(`the run took longer than --max-minutes ${maxMinutes}: aborting`)
  void cleanup().finally(() => process.exit(1))
}, maxMinutes * 60_000)

const handedOut = new Set<number>()

/** `count` distinct TCP ports on 127.0.0.1 that were free a moment ago (held open together, so none repeats). */
async function freePorts (count: number): Promise<number[]> {
  const servers = []
  const ports: number[] = []
  while (ports.length < count) {
    const server = createServer()
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    servers.push(server)
    const port = (server.address() as AddressInfo).port
    if (handedOut.has(port)) continue
    handedOut.add(port)
    ports.push(port)
  }
  await Promise.all(servers.map(async server => { await new Promise(resolve => server.close(resolve)) }))
  return ports
}

/** Spawns with stdout and stderr appended to files, so a busy benchmark never blocks a member's logging. */
function spawnLogged (command: string, args: readonly string[], logBase: string, env: NodeJS.ProcessEnv): ChildProcess {
  const out = openSync(`${logBase}.stdout`, 'a')
  const err = openSync(`${logBase}.stderr`, 'a')
  const child = spawn(command, args, { stdio: ['ignore', out, err], env })
  closeSync(out)
  closeSync(err)
  children.add(child)
  child.once('exit', () => { children.delete(child) })
  return child
}

async function stopChild (child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
  await exited(child)
  clearTimeout(timer)
}

function tail (file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n    ')
  } catch {
    return '(no log)'
  }
}

// ---- /proc ----

function rssKiB (pid: number): number {
  return statusKiB(pid, 'VmRSS')
}

/** A `kB` line of /proc/<pid>/status (VmRSS, RssAnon, RssFile). */
function statusKiB (pid: number, field: string): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new Error(`no ${field} for ${pid}`)
  return Number(match[1])
}

/**
 * Empties the page cache (as root), so that the members start as on a host that has just booted.
 * Part of a resident set is the executable's own pages, and how many of them a process maps
 * depends on how the file sits in the cache: galaxy's executable, just written by the build, made
 * an idle seed about 15 MiB larger (107–113 MiB, against 90–96 with the same binary copied, or
 * read back from disk).
 */
function dropPageCache (): string {
  if (values['keep-page-cache']) return 'page cache kept (--keep-page-cache)'
  if (process.getuid?.() !== 0) return 'page cache kept (not root)'
  spawnSync('sync')
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3')
    return 'page cache dropped before the members start, as on a freshly booted host'
  } catch (error) {
    return `page cache kept (${(error as Error).message})`
  }
}

/** utime + stime of a process, in seconds. */
function cpuSeconds (pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`)
}

/** utime + stime of a process's main thread, in seconds (galaxy's event loop; for etcd's Go runtime it means little). */
function mainThreadCpuSeconds (pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`)
}

/** Page faults of a process that had to read from storage (majflt of /proc/<pid>/stat). */
function majorFaults (pid: number): number {
  return Number(statFields(`/proc/${pid}/stat`)?.[9])
}

function statCpuSeconds (path: string): number {
  const fields = statFields(path)
  return fields === undefined ? Number.NaN : (Number(fields[11]) + Number(fields[12])) / clockTicks
}

/** The fields of a proc(5) `stat` file from the state on (field 3), or undefined when the process is gone. */
function statFields (path: string): string[] | undefined {
  try {
    const stat = readFileSync(path, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/**
 * Bytes a process has had written to storage (`write_bytes` of /proc/<pid>/io: every thread's,
 * counted when the pages are dirtied, so LevelDB's compactions and bbolt's page writes count too).
 */
function diskWriteBytes (pid: number): number {
  try {
    const match = /^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
    return match === null ? Number.NaN : Number(match[1])
  } catch {
    return Number.NaN
  }
}

/**
 * The whole machine's CPU so far, in seconds: `busy` running anything here (user, nice, system,
 * irq, softirq; guest time is already in user), and `stolen` by the hypervisor for other guests
 * while this one had work to run (steal), which slows every process here alike.
 */
function machineCpuSeconds (): { readonly busy: number, readonly stolen: number } {
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  return { busy: (user + nice + system + irq + softirq) / clockTicks, stolen: steal / clockTicks }
}

// ---- the HTTP client, the same for both systems ----

interface Reply { readonly status: number, readonly body: string }

function httpCall (port: number, method: string, path: string, headers: Record<string, string>, body: string, agent: Agent, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, res => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }) })
      res.on('error', reject)
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(body)
  })
}

/** What a failed put was: `timeout`, `HTTP <status> <code>`, or the socket error's code. */
class PutError extends Error {
  constructor (readonly kind: string, detail: string) { super(`${kind}: ${detail}`) }
}

function putError (error: unknown): PutError {
  if (error instanceof PutError) return error
  const err = error as NodeJS.ErrnoException
  return new PutError(err.message === 'timeout' ? 'timeout' : err.code ?? err.message, err.message)
}

// ---- the two systems ----

interface Member {
  readonly name: string
  readonly apiPort: number
  child: ChildProcess | undefined
  readonly logBase: string
}

interface Status { readonly id: string, readonly leaderId: string | null, readonly index: number, readonly term: number, readonly voters: number }

interface System {
  readonly label: string
  readonly version: string
  readonly members: Member[]
  /** How a put is sent, for the report. */
  readonly putDescription: string
  /** Puts this system acknowledged so far in the run (warm-ups and probes included). */
  writes: number
  start(): Promise<void>
  restart(member: Member): Promise<void>
  put(member: Member, key: string, agent: Agent, timeoutMs: number): Promise<void>
  status(member: Member): Promise<Status>
  /** Log lines saying a member became leader, with their wall-clock times. */
  leaderElections(member: Member): number[]
  stop(): Promise<void>
}

function pidOf (member: Member): number {
  const pid = member.child?.pid
  if (pid === undefined || member.child?.exitCode !== null || member.child.signalCode !== null) throw new Error(`${member.name} is not running`)
  return pid
}

class Etcd implements System {
  readonly label = 'etcd'
  readonly version: string
  readonly members: Member[] = []
  readonly putDescription = 'POST /v3/kv/put {"key","value"} (base64) on the JSON gateway'
  writes = 0
  private readonly dir = join(scratch, 'etcd')
  private readonly args = new Map<string, string[]>()
  private readonly statusAgent = new Agent({ keepAlive: true, maxSockets: 4 })

  constructor (private readonly binary: string) {
    this.version = (spawnSync(binary, ['--version']).stdout?.toString() ?? '').split('\n')[0]?.replace('etcd Version: ', '').trim() ?? '?'
  }

  async start (): Promise<void> {
    mkdirSync(join(this.dir, 'data'), { recursive: true })
    mkdirSync(join(this.dir, 'logs'), { recursive: true })
    const free = await freePorts(9)
    const ports = [1, 2, 3].map(i => ({ name: `m${i}`, client: free[3 * i - 3] as number, peer: free[3 * i - 2] as number, metrics: free[3 * i - 1] as number }))
    const cluster = ports.map(p => `${p.name}=http://127.0.0.1:${p.peer}`).join(',')
    for (const p of ports) {
      this.args.set(p.name, [
        '--name', p.name, '--data-dir', join(this.dir, 'data', p.name),
        '--listen-client-urls', `http://127.0.0.1:${p.client}`, '--advertise-client-urls', `http://127.0.0.1:${p.client}`,
        '--listen-peer-urls', `http://127.0.0.1:${p.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${p.peer}`,
        '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--initial-cluster-token', 'store-vs-etcd',
        '--heartbeat-interval', '100', '--election-timeout', '1000', '--pre-vote=true',
        '--logger', 'zap', '--log-outputs', join(this.dir, 'logs', `${p.name}.log`),
        '--listen-metrics-urls', `http://127.0.0.1:${p.metrics}`
      ])
      this.members.push({ name: p.name, apiPort: p.client, child: undefined, logBase: join(this.dir, 'logs', p.name) })
    }
    for (const member of this.members) this.spawn(member)
  }

  private spawn (member: Member): void {
    member.child = spawnLogged(this.binary, this.args.get(member.name) ?? [], member.logBase, { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.dir })
  }

  async restart (member: Member): Promise<void> {
    this.spawn(member)
    const deadline = now() + 30_000
    for (;;) {
      try {
        await this.status(member)
        return
      } catch (error) {
        if (member.child?.exitCode !== null || member.child.signalCode !== null) throw new Error(`${member.name} exited on restart: ${tail(`${member.logBase}.log`)}`)
        if (now() > deadline) throw new Error(`${member.name} did not answer within 30 s of its restart: ${(error as Error).message}`)
        await sleep(50)
      }
    }
  }

  async put (member: Member, key: string, agent: Agent, timeoutMs: number): Promise<void> {
    const body = `{"key":"${Buffer.from(key).toString('base64')}","value":"${valueBase64}"}`
    let reply: Reply
    try {
      reply = await httpCall(member.apiPort, 'POST', '/v3/kv/put', {}, body, agent, timeoutMs)
    } catch (error) {
      throw putError(error)
    }
    if (reply.status !== 200) throw new PutError(`HTTP ${reply.status}`, reply.body.slice(0, 200))
    if (reply.body.includes('"error"') || reply.body.includes('"code"')) throw new PutError('etcd error', reply.body.slice(0, 200))
    this.writes++
  }

  async status (member: Member): Promise<Status> {
    const reply = await httpCall(member.apiPort, 'POST', '/v3/maintenance/status', {}, '{}', this.statusAgent, 1000)
    if (reply.status !== 200) throw new Error(`status of ${member.name}: HTTP ${reply.status}`)
    const body = JSON.parse(reply.body) as { header?: { member_id?: string }, leader?: string, raftIndex?: string, raft_index?: string, raftTerm?: string, raft_term?: string }
    const leader = body.leader ?? '0'
    return {
      id: body.header?.member_id ?? '?',
      leaderId: leader === '0' ? null : leader,
      index: Number(body.raftIndex ?? body.raft_index ?? 0),
      term: Number(body.raftTerm ?? body.raft_term ?? 0),
      voters: 3
    }
  }

  leaderElections (member: Member): number[] {
    const times: number[] = []
    let text = ''
    try { text = readFileSync(`${member.logBase}.log`, 'utf8') } catch { return times }
    for (const line of text.split('\n')) {
      if (!line.includes('became leader at term')) continue
      try {
        const entry = JSON.parse(line) as { ts?: string | number }
        const ts = typeof entry.ts === 'number' ? entry.ts * 1000 : Date.parse(String(entry.ts).replace(/([+-]\d\d)(\d\d)$/, '$1:$2'))
        if (Number.isFinite(ts)) times.push(ts)
      } catch { /* not JSON */ }
    }
    return times
  }

  async stop (): Promise<void> {
    await Promise.all(this.members.map(async member => { if (member.child !== undefined) await stopChild(member.child, 10_000) }))
    this.statusAgent.destroy()
  }
}

class Galaxy implements System {
  readonly label = 'galaxy'
  readonly version: string
  readonly members: Member[] = []
  readonly putDescription = 'PUT /v1/kv/<key> {"value"} (base64), Authorization: Bearer <admin token>'
  writes = 0
  private readonly dir = join(scratch, 'galaxy')
  private readonly args = new Map<string, string[]>()
  private token = ''
  private readonly statusAgent = new Agent({ keepAlive: true, maxSockets: 4 })

  constructor (private readonly command: string, private readonly prefix: readonly string[]) {
    this.version = (spawnSync(command, [...prefix, '--version']).stdout?.toString() ?? '').trim()
  }

  async start (): Promise<void> {
    mkdirSync(join(this.dir, 'logs'), { recursive: true })
    let firstListen = ''
    const free = await freePorts(6)
    for (let i = 1; i <= 3; i++) {
      const name = `s${i}`
      const listen = free[2 * i - 2] as number
      const api = free[2 * i - 1] as number
      const args = ['up', '--name', name, '--data', join(this.dir, name), '--listen', `127.0.0.1:${listen}`, '--api', `127.0.0.1:${api}`]
      if (i === 1) firstListen = `127.0.0.1:${listen}`
      else args.push('--seed', '--join', firstListen, '--key-file', join(this.dir, 's1', 'cluster.key'))
      this.args.set(name, args)
      this.members.push({ name, apiPort: api, child: undefined, logBase: join(this.dir, 'logs', name) })
    }
    // The first seed bootstraps; the others join through it, one after the other as an operator would.
    for (const member of this.members) {
      await this.restart(member)
      if (member.name === 's1') this.token = readFileSync(join(this.dir, 's1', 'admin.token'), 'utf8').trim()
    }
  }

  /** Starts (or restarts) a member with its arguments and waits until it says it is up. */
  async restart (member: Member): Promise<void> {
    const stdout = `${member.logBase}.stdout`
    const before = existsSync(stdout) ? readFileSync(stdout, 'utf8').split(' is up in cluster ').length : 1
    member.child = spawnLogged(this.command, [...this.prefix, ...(this.args.get(member.name) ?? [])], member.logBase,
      { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? this.dir, TMPDIR: process.env.TMPDIR ?? '/tmp' })
    const deadline = now() + 60_000
    while (readFileSync(stdout, 'utf8').split(' is up in cluster ').length <= before) {
      if (member.child.exitCode !== null || member.child.signalCode !== null) throw new Error(`galaxy ${member.name} exited with ${member.child.exitCode ?? member.child.signalCode}: ${tail(`${member.logBase}.stderr`)}`)
      if (now() > deadline) throw new Error(`galaxy ${member.name} did not say it is up within 60 s: ${tail(`${member.logBase}.stderr`)}`)
      await sleep(50)
    }
  }

  async put (member: Member, key: string, agent: Agent, timeoutMs: number): Promise<void> {
    let reply: Reply
    try {
      reply = await httpCall(member.apiPort, 'PUT', `/v1/kv/${encodeURIComponent(key)}`, { authorization: `Bearer ${this.token}` }, `{"value":"${valueBase64}"}`, agent, timeoutMs)
    } catch (error) {
      throw putError(error)
    }
    if (reply.status !== 200) {
      let code = ''
      try { code = (JSON.parse(reply.body) as { error?: { code?: string } }).error?.code ?? '' } catch { /* not the API's error body */ }
      throw new PutError(`HTTP ${reply.status}${code === '' ? '' : ` ${code}`}`, reply.body.trim().slice(0, 300))
    }
    this.writes++
  }

  async status (member: Member): Promise<Status> {
    const reply = await httpCall(member.apiPort, 'GET', '/v1/status', { authorization: `Bearer ${this.token}` }, '', this.statusAgent, 1000)
    if (reply.status !== 200) throw new Error(`status of ${member.name}: HTTP ${reply.status} ${reply.body.trim().slice(0, 200)}`)
    const body = JSON.parse(reply.body) as { node: { id: string }, leader: { id: string, name: string } | null, applied: number, term: number, members: Array<{ suffrage: string }> }
    return { id: body.node.id, leaderId: body.leader?.id ?? null, index: body.applied, term: body.term, voters: body.members.filter(m => m.suffrage === 'voter').length }
  }

  leaderElections (member: Member): number[] {
    const times: number[] = []
    let text = ''
    try { text = readFileSync(`${member.logBase}.stderr`, 'utf8') } catch { return times }
    for (const line of text.split('\n')) {
      if (!line.includes('"became leader"')) continue
      try {
        const ts = Date.parse((JSON.parse(line) as { time: string }).time)
        if (Number.isFinite(ts)) times.push(ts)
      } catch { /* not JSON */ }
    }
    return times
  }

  async stop (): Promise<void> {
    await Promise.all(this.members.map(async member => { if (member.child !== undefined) await stopChild(member.child, 20_000) }))
    this.statusAgent.destroy()
  }
}

// ---- cluster state ----

/** Waits until every member answers, they agree on a leader, have `voters` voters and their indices are within 2. */
async function waitStable (system: System, timeoutMs: number): Promise<Map<string, Member>> {
  const deadline = now() + timeoutMs
  let last = ''
  while (now() < deadline) {
    const dead = system.members.find(member => member.child !== undefined && (member.child.exitCode !== null || member.child.signalCode !== null))
    if (dead !== undefined) throw new Error(`${system.label} ${dead.name} exited (${dead.child?.exitCode ?? dead.child?.signalCode}) while waiting for the cluster to settle`)
    try {
      const statuses = await Promise.all(system.members.map(async member => await system.status(member)))
      const leaders = new Set(statuses.map(status => status.leaderId))
      const indices = statuses.map(status => status.index)
      last = `leaders ${[...leaders].join('/')}, indices ${indices.join('/')}, voters ${statuses.map(status => status.voters).join('/')}`
      const leader = statuses[0]?.leaderId ?? null
      if (leaders.size === 1 && leader !== null && Math.max(...indices) - Math.min(...indices) <= 2 && statuses.every(status => status.voters === 3)) {
        return new Map(statuses.map((status, i) => [status.id, system.members[i] as Member]))
      }
    } catch (error) {
      last = (error as Error).message
    }
    await sleep(100)
  }
  throw new Error(`${system.label}: the cluster did not settle within ${timeoutMs} ms (${last})`)
}

async function leaderOf (system: System): Promise<Member> {
  const byId = await waitStable(system, 60_000)
  const status = await system.status(system.members[0] as Member)
  const leader = status.leaderId === null ? undefined : byId.get(status.leaderId)
  if (leader === undefined) throw new Error(`${system.label}: the leader ${status.leaderId} is not one of the members`)
  return leader
}

// ---- load ----

interface LoadResult {
  readonly ops: number
  readonly opsPerS: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly errors: Map<string, number>
  readonly firstError: string
  /**
   * CPU seconds in the measured window: used by each member (and by its main thread), by this
   * client, by the idling cluster, by everything else on the machine; and taken by the hypervisor
   * (`stolen`).
   */
  readonly cpu: { readonly members: number[], readonly mainThreads: number[], readonly client: number, readonly idleCluster: number, readonly others: number, readonly stolen: number, readonly windowS: number }
  /** MiB each member had written to storage in the measured window. */
  readonly diskMiB: number[]
  /** Page faults each member waited on storage for in the measured window (pages read back in). */
  readonly majorFaults: number[]
}

/** When each system's last load (a row, or a window of filling) ended. */
const lastLoadEnded = new Map<System, number>()

/** Waits for the systems in `idle` to settle (see `settleAfterLoadMs`); returns how long it took, in ms. */
async function settle (idle: System[]): Promise<number> {
  const t0 = now()
  for (const other of idle) await sleep((lastLoadEnded.get(other) ?? 0) + settleAfterLoadMs - now())
  const pids = idle.flatMap(other => other.members.map(pidOf))
  const used = (): number => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0)
  while (now() - t0 < settleMaxMs) {
    const before = used()
    await sleep(settleWindowMs)
    if ((used() - before) * 1000 / settleWindowMs < settledCpuShare) return now() - t0
  }
  log(`warning: ${idle.map(other => other.label).join(', ')} still busy after ${settleMaxMs / 1000} s of waiting; measuring anyway`)
  return now() - t0
}

const quantile = (sorted: Float64Array, q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN

/** The keys a row's puts cycle over: worker w's next key, the count shared by all workers. */
function keyCycle (space: number, prefix: string): (w: number) => string {
  let n = 0
  return w => `${prefix}${String((w * 7919 + ++n) % space).padStart(7, '0')}`
}

/**
 * Uncounted puts that open the connections and let both sides reach steady state: at least `minMs`
 * and `minPuts` puts, at most `warmupMaxMs`.
 */
async function warmUp (system: System, targets: Member[], workers: number, agent: Agent, minMs: number, minPuts: number): Promise<void> {
  const warmEnd = now() + minMs
  const warmLimit = now() + warmupMaxMs
  let warmed = 0
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    while ((now() < warmEnd || warmed < minPuts) && now() < warmLimit) {
      warmed++
      await system.put(targets[w % targets.length] as Member, `w${w}-${warmed % 100}`, agent, loadTimeoutMs).catch(() => {})
    }
  }))
}

/** What one measured window saw, before it is summed up with others (`summarize`). */
interface Measured {
  readonly latencies: number[]
  readonly errors: Map<string, number>
  readonly firstError: string
  readonly cpu: LoadResult['cpu']
  readonly diskMiB: number[]
  readonly majorFaults: number[]
}

/** `workers` closed-loop clients for `windowMs`, worker w sending to targets[w % targets.length]. */
async function measure (system: System, idle: System[], targets: Member[], workers: number, agent: Agent, keyOf: (w: number) => string, windowMs: number): Promise<Measured> {
  const latencies: number[] = []
  const errors = new Map<string, number>()
  let firstError = ''
  const pids = system.members.map(pidOf)
  const cpuBefore = pids.map(cpuSeconds)
  const mainBefore = pids.map(mainThreadCpuSeconds)
  const diskBefore = pids.map(diskWriteBytes)
  const faultsBefore = pids.map(majorFaults)
  const idlePids = idle.flatMap(other => other.members.map(pidOf))
  const idleBefore = idlePids.map(cpuSeconds)
  const clientBefore = process.cpuUsage()
  const machineBefore = machineCpuSeconds()
  const t0 = now()
  const end = t0 + windowMs
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    const target = targets[w % targets.length] as Member
    while (now() < end) {
      const key = keyOf(w)
      const sent = now()
      try {
        await system.put(target, key, agent, loadTimeoutMs)
        latencies.push(now() - sent)
      } catch (error) {
        const kind = putError(error).kind
        errors.set(kind, (errors.get(kind) ?? 0) + 1)
        if (firstError === '') firstError = `${target.name}: ${(error as Error).message}`
        await sleep(10)
      }
    }
  }))
  const windowS = (now() - t0) / 1000
  const clientCpu = process.cpuUsage(clientBefore)
  const client = (clientCpu.user + clientCpu.system) / 1e6
  const members = pids.map((pid, i) => cpuSeconds(pid) - (cpuBefore[i] as number))
  const mainThreads = pids.map((pid, i) => mainThreadCpuSeconds(pid) - (mainBefore[i] as number))
  const diskMiB = pids.map((pid, i) => (diskWriteBytes(pid) - (diskBefore[i] as number)) / (1024 * 1024))
  const faults = pids.map((pid, i) => majorFaults(pid) - (faultsBefore[i] as number))
  const idleCluster = idlePids.reduce((sum, pid, i) => sum + cpuSeconds(pid) - (idleBefore[i] as number), 0)
  const machine = machineCpuSeconds()
  const others = machine.busy - machineBefore.busy - client - idleCluster - members.reduce((sum, cpu) => sum + cpu, 0)
  const stolen = machine.stolen - machineBefore.stolen
  return { latencies, errors, firstError, cpu: { members, mainThreads, client, idleCluster, others, stolen, windowS }, diskMiB, majorFaults: faults }
}

/** Windows of one system summed up: their puts and time added, their latencies pooled. */
function summarize (windows: readonly Measured[]): LoadResult {
  const total = (pick: (window: Measured) => number): number => windows.reduce((sum, window) => sum + pick(window), 0)
  const errors = new Map<string, number>()
  for (const window of windows) for (const [kind, count] of window.errors) errors.set(kind, (errors.get(kind) ?? 0) + count)
  const memberCount = windows[0]?.cpu.members.length ?? 0
  const cpu = {
    members: Array.from({ length: memberCount }, (_, i) => total(window => window.cpu.members[i] ?? 0)),
    mainThreads: Array.from({ length: memberCount }, (_, i) => total(window => window.cpu.mainThreads[i] ?? 0)),
    client: total(window => window.cpu.client),
    idleCluster: total(window => window.cpu.idleCluster),
    others: total(window => window.cpu.others),
    stolen: total(window => window.cpu.stolen),
    windowS: total(window => window.cpu.windowS)
  }
  const sorted = Float64Array.from(windows.flatMap(window => window.latencies)).sort()
  return {
    ops: sorted.length,
    opsPerS: sorted.length / cpu.windowS,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    errors,
    firstError: windows.find(window => window.firstError !== '')?.firstError ?? '',
    cpu,
    diskMiB: Array.from({ length: memberCount }, (_, i) => total(window => window.diskMiB[i] ?? 0)),
    majorFaults: Array.from({ length: memberCount }, (_, i) => total(window => window.majorFaults[i] ?? 0))
  }
}

/**
 * `workers` closed-loop clients, worker w sending to targets[w % targets.length] through an agent
 * holding at most `connectionsPerTarget` keep-alive connections to each target, after a warm-up
 * (`warmupMs`, `warmupPuts`) that is not counted.
 */
async function load (system: System, idle: System[], targets: Member[], workers: number, connectionsPerTarget: number, keySpace: number, keyPrefix: string, windowSeconds = seconds): Promise<LoadResult> {
  const settledMs = await settle(idle)
  if (settledMs > settleAfterLoadMs + 2 * settleWindowMs) log(`${idle.map(other => other.label).join(', ')} settled after ${(settledMs / 1000).toFixed(1)} s`)
  const agent = new Agent({ keepAlive: true, maxSockets: connectionsPerTarget })
  try {
    await warmUp(system, targets, workers, agent, warmupMs, warmupPuts)
    return summarize([await measure(system, idle, targets, workers, agent, keyCycle(keySpace, keyPrefix), windowSeconds * 1000)])
  } finally {
    agent.destroy()
    lastLoadEnded.set(system, now())
  }
}

// ---- failover ----

/**
 * How the leader is taken down: `kill` is `kill -9` (the process is gone, the kernel closes its
 * connections); `stop` is SIGSTOP (it hangs with its connections open, as a frozen host or a
 * partition looks to the others), continued once a survivor took a write.
 */
const leaderFaults = {
  kill: { signal: 'SIGKILL', label: 'kill -9', doing: 'killing', results: 'failovers' },
  stop: { signal: 'SIGSTOP', label: 'SIGSTOP', doing: 'stopping', results: 'stops' }
} as const
type LeaderFault = keyof typeof leaderFaults

interface Failover {
  readonly firstWriteMs: number
  /** When the first accepted write after the kill had been sent, from the kill. */
  readonly firstWriteSentMs: number
  /** Kill → the earliest "became leader" log line of a survivor (wall clock, ms resolution). */
  readonly electedMs: number
  readonly killed: string
  readonly newLeader: string
  readonly term: number
  readonly failedProbes: Map<string, number>
  readonly firstFailure: string
}

async function failover (system: System, fault: LeaderFault): Promise<Failover> {
  const leader = await leaderOf(system)
  await sleep(2000)
  const again = await leaderOf(system)
  if (again !== leader) return await failover(system, fault)
  const survivors = system.members.filter(member => member !== leader)
  const agent = new Agent({ keepAlive: true, maxSockets: 256 })
  const probes: Array<{ sent: number, done: number, ok: boolean }> = []
  const failedProbes = new Map<string, number>()
  let firstFailure = ''
  let tKill = Number.POSITIVE_INFINITY
  let stopped = false
  let wallKill = 0
  let probing = true
  const outstanding = new Set<Promise<void>>()
  let k = 0
  const prober = (async () => {
    const t0 = now()
    while (probing) {
      const target = survivors[k % 2] as Member
      const probe = { sent: now(), done: 0, ok: false }
      probes.push(probe)
      const pending = system.put(target, `fo${k}`, agent, probeTimeoutMs).then(() => { probe.ok = true }, (error: unknown) => {
        if (probe.sent < tKill) return
        const kind = putError(error).kind
        failedProbes.set(kind, (failedProbes.get(kind) ?? 0) + 1)
        if (firstFailure === '') firstFailure = `${target.name}: ${(error as Error).message}`
      }).finally(() => { probe.done = now(); outstanding.delete(pending) })
      outstanding.add(pending)
      k++
      // Every 10 ms on a fixed schedule, whatever the probes take.
      await sleep(Math.max(0, t0 + k * probeEveryMs - now()))
    }
  })()
  try {
    await sleep(300)
    tKill = now()
    wallKill = Date.now()
    process.kill(pidOf(leader), leaderFaults[fault].signal)
    stopped = fault === 'stop'
    const deadline = tKill + 20_000
    while (!probes.some(probe => probe.ok && probe.sent >= tKill) && now() < deadline) await sleep(5)
    await sleep(300)
  } finally {
    probing = false
    if (stopped) {
      try {
        process.kill(pidOf(leader), 'SIGCONT')
      } catch (error) {
        log(`${system.label}: could not continue ${leader.name}: ${(error as Error).message}`)
      }
    }
    await prober
    await Promise.race([Promise.all([...outstanding]), sleep(probeTimeoutMs + 500)])
    agent.destroy()
  }
  if (fault === 'kill' && leader.child !== undefined) await exited(leader.child)
  const accepted = probes.filter(probe => probe.ok && probe.sent >= tKill).map(probe => probe.done - tKill)
  const first = probes.filter(probe => probe.ok && probe.sent >= tKill).sort((a, b) => a.done - b.done)[0]
  if (accepted.length === 0) throw new Error(`${system.label}: no write was accepted within 20 s of ${leaderFaults[fault].doing} the leader ${leader.name}; failed probes: ${JSON.stringify(Object.fromEntries(failedProbes))}; first: ${firstFailure}`)
  const after = await system.status(survivors[0] as Member)
  const byId = new Map<string, string>()
  for (const member of survivors) byId.set((await system.status(member)).id, member.name)
  const elections = survivors.flatMap(member => system.leaderElections(member)).filter(ts => ts >= wallKill - 5)
  const result: Failover = {
    firstWriteMs: Math.min(...accepted),
    firstWriteSentMs: first === undefined ? Number.NaN : first.sent - tKill,
    electedMs: elections.length === 0 ? Number.NaN : Math.min(...elections) - wallKill,
    killed: leader.name,
    newLeader: after.leaderId === null ? '?' : byId.get(after.leaderId) ?? after.leaderId,
    term: after.term,
    failedProbes,
    firstFailure
  }
  // The killed member comes back on its data dir (a stopped one was continued) and catches up before the next iteration.
  if (fault === 'kill') await system.restart(leader)
  await waitStable(system, 60_000)
  return result
}

// ---- both systems, interleaved ----

interface Row {
  readonly name: string
  readonly endpoints: string
  readonly writesBefore: number
  readonly result: LoadResult
  /** Puts/s in each window of a row measured in turns (`runPairedRow`), in order; else empty. */
  readonly windowRates: number[]
}

interface SystemResult {
  readonly system: System
  idleRss: number[]
  /** RssAnon and RssFile of each member at the same moment (KiB). */
  idleAnon: number[]
  idleFile: number[]
  /** CPU seconds each member used during the idle window. */
  idleCpu: number[]
  loadedRss: number[]
  agedRss: number[]
  /** Writes acknowledged before the aged rows, and how long filling up to them took. */
  fill: { writes: number, seconds: number, result: LoadResult | undefined }
  readonly rows: Row[]
  readonly failovers: Failover[]
  readonly stops: Failover[]
}

interface RowSpec { readonly name: string, readonly label: string, readonly workers: number, readonly connections: number, readonly toLeaderOnly: boolean, readonly viaFollower: boolean }

function rowSpecs (): RowSpec[] {
  const specs: RowSpec[] = [
    { name: 'seq-leader', label: 'sequential put → leader, 1 client', workers: 1, connections: 1, toLeaderOnly: true, viaFollower: false },
    { name: 'seq-follower', label: 'sequential put → a follower, 1 client', workers: 1, connections: 1, toLeaderOnly: false, viaFollower: true }
  ]
  for (const connections of connectionCounts) {
    const perMember = Math.max(1, Math.round(connections / 3))
    specs.push({ name: `conc-all-${connections}`, label: `${clients} clients, ${perMember * 3} conns over all 3 members`, workers: clients, connections: perMember, toLeaderOnly: false, viaFollower: false })
    specs.push({ name: `conc-leader-${connections}`, label: `${clients} clients, ${connections} conns → leader only`, workers: clients, connections, toLeaderOnly: true, viaFollower: false })
  }
  return specs
}

/** The rows measured again once the stores hold `agedWrites` writes. */
function agedSpecs (): RowSpec[] {
  return rowSpecs().filter(spec => spec.name === 'seq-leader' || spec.name.startsWith('conc-all-')).map(spec => ({ ...spec, name: `aged-${spec.name}`, label: `after ${int(agedWrites)} writes: ${spec.label}` }))
}

/** Where a row's clients send: the members, and how the report says it. */
async function rowTargets (system: System, spec: RowSpec): Promise<{ targets: Member[], endpoints: string }> {
  const leader = await leaderOf(system)
  const followers = system.members.filter(member => member !== leader)
  if (spec.viaFollower) {
    const follower = followers[0] as Member
    return { targets: [follower], endpoints: `${follower.name} (a follower; it forwards to the leader)` }
  }
  if (spec.toLeaderOnly) return { targets: [leader], endpoints: `${spec.connections} connection${spec.connections === 1 ? '' : 's'} to ${leader.name} (the leader)` }
  const targets = [leader, ...followers]
  return { targets, endpoints: `${spec.connections * 3} connections, ${spec.connections} to each of ${targets.map(member => member.name).join(', ')} (leader first); worker w → member w mod 3` }
}

/** Keys of a row: sequential rows cycle over 1,000, concurrent ones over 100,000. */
const rowKeys = (spec: RowSpec): { space: number, prefix: string } => spec.workers === 1 ? { space: 1000, prefix: 'k' } : { space: 100_000, prefix: 'c' }

async function runRow (result: SystemResult, idle: System[], spec: RowSpec): Promise<void> {
  const system = result.system
  const { targets, endpoints } = await rowTargets(system, spec)
  const writesBefore = system.writes
  log(`${system.label}: ${spec.name} → ${endpoints}, ${seconds} s (${int(writesBefore)} writes so far)`)
  const keys = rowKeys(spec)
  const measured = await load(system, idle, targets, spec.workers, spec.connections, keys.space, keys.prefix)
  log(`${system.label}:   ${describe(measured)}`)
  result.rows.push({ name: spec.name, endpoints, writesBefore, result: measured, windowRates: [] })
}

/**
 * One repeat of a row for every system at once, in turns of short windows (`pairedWindowMs`):
 * each system warmed up on its own connections, then its windows and the others' alternately,
 * `first` choosing who starts. Each system's windows add up to one row of `--seconds`.
 */
async function runPairedRow (results: SystemResult[], spec: RowSpec, first: number): Promise<void> {
  const subjects = results.map(result => result.system)
  const keys = rowKeys(spec)
  await settle(subjects)
  const runs = []
  try {
    for (const result of results) {
      const system = result.system
      const { targets, endpoints } = await rowTargets(system, spec)
      const agent = new Agent({ keepAlive: true, maxSockets: spec.connections })
      runs.push({ result, targets, endpoints, agent, writesBefore: system.writes, keyOf: keyCycle(keys.space, keys.prefix), windows: [] as Measured[] })
      log(`${system.label}: ${spec.name} → ${endpoints}, ${seconds} s in windows of ${pairedWindowMs / 1000} s taken in turn with ${subjects.filter(other => other !== system).map(other => other.label).join(', ')} (${int(system.writes)} writes so far)`)
      await warmUp(system, targets, spec.workers, agent, warmupMs, warmupPuts)
    }
    const turns = Math.max(1, Math.round(seconds * 1000 / pairedWindowMs))
    for (let turn = 0; turn < turns; turn++) {
      for (const run of ordered(runs, first + turn)) {
        const system = run.result.system
        await warmUp(system, run.targets, spec.workers, run.agent, pairedLeadInMs, 0)
        run.windows.push(await measure(system, subjects.filter(other => other !== system), run.targets, spec.workers, run.agent, run.keyOf, pairedWindowMs))
      }
    }
    for (const run of runs) {
      const measured = summarize(run.windows)
      log(`${run.result.system.label}:   ${describe(measured)}`)
      run.result.rows.push({ name: spec.name, endpoints: run.endpoints, writesBefore: run.writesBefore, result: measured, windowRates: run.windows.map(window => window.latencies.length / window.cpu.windowS) })
    }
  } finally {
    for (const run of runs) {
      run.agent.destroy()
      lastLoadEnded.set(run.result.system, now())
    }
  }
}

function describe (measured: LoadResult): string {
  const errors = [...measured.errors].map(([kind, count]) => `${count} × ${kind}`).join(', ')
  const cpu = measured.cpu
  return `${int(measured.ops)} puts, ${int(measured.opsPerS)}/s, p50 ${fmt(measured.p50)} ms, p99 ${fmt(measured.p99)} ms, max ${fmt(measured.max)} ms; ` +
    `CPU-s in ${fmt(cpu.windowS, 1)} s: members ${cpu.members.map(c => fmt(c, 1)).join('/')} (main threads ${cpu.mainThreads.map(c => fmt(c, 1)).join('/')}), client ${fmt(cpu.client, 1)}, idle other cluster ${fmt(cpu.idleCluster, 1)}, other processes ${fmt(cpu.others, 1)}, stolen by the hypervisor ${fmt(cpu.stolen, 2)}; ` +
    `MiB written: members ${measured.diskMiB.map(mib => fmt(mib, 0)).join('/')}; pages faulted in from storage: members ${measured.majorFaults.map(int).join('/')}` +
    `${errors === '' ? '' : `; ERRORS ${errors} (first: ${measured.firstError})`}`
}

/** Alternates which system goes first, so that neither always runs right after the other. */
const ordered = <T>(list: T[], i: number): T[] => i % 2 === 0 ? list : [...list].reverse()

async function measureAll (subjects: System[]): Promise<SystemResult[]> {
  const results: SystemResult[] = subjects.map(system => ({ system, idleRss: [], idleAnon: [], idleFile: [], idleCpu: [], loadedRss: [], agedRss: [], fill: { writes: 0, seconds: 0, result: undefined }, rows: [], failovers: [], stops: [] }))
  const others = (result: SystemResult): System[] => subjects.filter(system => system !== result.system)
  for (const system of subjects) {
    log(`${system.label}: starting 3 members (${system.version})`)
    const t0 = now()
    await system.start()
    await waitStable(system, 60_000)
    log(`${system.label}: 3 voters agree on a leader after ${((now() - t0) / 1000).toFixed(1)} s`)
  }
  log(`idling ${idleSeconds} s: resident set and CPU of the fresh members`)
  const idleCpuBefore = results.map(result => result.system.members.map(member => cpuSeconds(pidOf(member))))
  await sleep(idleSeconds * 1000)
  for (const [i, result] of results.entries()) {
    result.idleRss = result.system.members.map(member => rssKiB(pidOf(member)))
    result.idleAnon = result.system.members.map(member => statusKiB(pidOf(member), 'RssAnon'))
    result.idleFile = result.system.members.map(member => statusKiB(pidOf(member), 'RssFile'))
    result.idleCpu = result.system.members.map((member, j) => cpuSeconds(pidOf(member)) - (idleCpuBefore[i]?.[j] ?? Number.NaN))
    log(`${result.system.label}: idle VmRSS ${result.idleRss.map(mib).join(', ')}; CPU-s while idle ${result.idleCpu.map(c => c.toFixed(2)).join(', ')}`)
  }

  // Also run before the aged rows: the kills restart members, which then warm up again.
  const runIn = async (): Promise<void> => {
    if (runInSeconds === 0) return
    for (const result of results) {
      const system = result.system
      const leader = await leaderOf(system)
      log(`${system.label}: running in, ${clients} clients over all 3 members for ${runInSeconds} s (not counted)`)
      const ran = await load(system, others(result), [leader, ...system.members.filter(member => member !== leader)], clients, 3, 100_000, 'r', runInSeconds)
      log(`${system.label}:   run-in: ${describe(ran)}`)
    }
  }
  await runIn()

  let turn = 0
  const runRows = async (specs: RowSpec[]): Promise<void> => {
    for (const spec of specs) {
      for (let repeat = 0; repeat < repeats; repeat++) {
        if (spec.workers === 1 && results.length > 1) await runPairedRow(results, spec, turn++)
        else for (const result of ordered(results, turn++)) await runRow(result, others(result), spec)
      }
    }
  }
  await runRows(rowSpecs())
  await sleep(2000)
  for (const result of results) result.loadedRss = result.system.members.map(member => rssKiB(pidOf(member)))

  for (const [fault, count] of [['kill', failovers], ['stop', stops]] as const) {
    for (let i = 0; i < count; i++) {
      for (const result of ordered(results, i)) {
        const system = result.system
        const f = await failover(system, fault)
        result[leaderFaults[fault].results].push(f)
        const failed = [...f.failedProbes].map(([kind, count]) => `${count} × ${kind}`).join(', ')
        log(`${system.label}: ${leaderFaults[fault].label} ${i + 1}/${count}: ${f.killed} → first accepted write after ${f.firstWriteMs.toFixed(0)} ms (sent ${f.firstWriteSentMs.toFixed(0)} ms after the signal; "became leader" in the log after ${Number.isNaN(f.electedMs) ? '?' : f.electedMs.toFixed(0)} ms: ${f.newLeader}, term ${f.term}); failed probes sent after the signal: ${failed === '' ? 'none' : failed}`)
      }
    }
  }

  if (agedWrites > 0) {
    for (const result of results) {
      const system = result.system
      const missing = agedWrites - system.writes
      if (missing <= 0) continue
      // Filled as fast as it goes: 64 clients over 64 connections to the leader, bounded in time.
      const leader = await leaderOf(system)
      log(`${system.label}: filling up to ${int(agedWrites)} writes (${int(missing)} more), at most ${fillSeconds} s`)
      const t0 = now()
      const deadline = t0 + fillSeconds * 1000
      let last: LoadResult | undefined
      while (system.writes < agedWrites && now() < deadline) {
        last = await load(system, others(result), [leader], clients, clients, 100_000, 'c', Math.min(10, Math.max(1, (deadline - now()) / 1000)))
        log(`${system.label}:   fill: ${int(system.writes)} writes so far; last 10 s: ${describe(last)}`)
      }
      result.fill = { writes: system.writes, seconds: (now() - t0) / 1000, result: last }
      if (system.writes < agedWrites) log(`${system.label}: WARNING: only ${int(system.writes)} writes after ${fillSeconds} s of filling`)
    }
    await runIn()
    await runRows(agedSpecs())
    await sleep(2000)
    for (const result of results) result.agedRss = result.system.members.map(member => rssKiB(pidOf(member)))
  }

  for (const result of results) {
    log(`${result.system.label}: stopping`)
    await result.system.stop()
  }
  return results
}

// ---- setup ----

function ensureEtcd (): string {
  const found = spawnSync('sh', ['-c', 'command -v etcd']).stdout?.toString().trim() ?? ''
  if (found !== '') return found
  log('etcd is not on PATH: installing etcd-server from apt (at most 5 minutes)')
  const install = spawnSync('sh', ['-c', 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 })
  const again = spawnSync('sh', ['-c', 'command -v etcd']).stdout?.toString().trim() ?? ''
  if (install.status !== 0 || again === '') {
    throw new Error(`could not install etcd (apt-get install etcd-server ${install.error !== undefined ? `failed: ${install.error.message}` : `exited ${install.status}`}); install etcd 3.4 so that \`etcd\` is on PATH, or run with --systems galaxy`)
  }
  return again
}

function newestSource (dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'gen') continue
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs)
  }
  return newest
}

function ensureGalaxy (): { command: string, prefix: string[] } {
  if (values.galaxy !== undefined) {
    if (!existsSync(values.galaxy)) throw new Error(`--galaxy ${values.galaxy}: no such file`)
    return /\.c?js$/.test(values.galaxy) ? { command: process.execPath, prefix: [values.galaxy] } : { command: values.galaxy, prefix: [] }
  }
  const executable = join(root, 'dist', 'galaxy')
  const sources = Math.max(newestSource(join(root, 'src')), newestSource(join(root, 'proto')), newestSource(join(root, 'scripts')),
    statSync(join(root, 'package.json')).mtimeMs, statSync(join(root, 'package-lock.json')).mtimeMs)
  if (!existsSync(executable) || statSync(executable).mtimeMs < sources) {
    log(`${existsSync(executable) ? 'dist/galaxy is older than the sources' : 'dist/galaxy is missing'}: node scripts/build.mjs (at most 5 minutes)`)
    const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 })
    if (build.status !== 0) throw new Error(`the build failed (${build.error?.message ?? `exit ${build.status}`})`)
  }
  return { command: executable, prefix: [] }
}

// ---- report ----

const fmt = (n: number, digits = 2): string => Number.isFinite(n) ? n.toFixed(digits) : 'n/a'
const int = (n: number): string => Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'
const mib = (kib: number): string => Number.isFinite(kib) ? `${(kib / 1024).toFixed(1)} MiB` : 'n/a'
const median = (list: number[]): number => {
  const sorted = [...list].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function report (results: SystemResult[], machine: string[]): void {
  const g = results.find(result => result.system.label === 'galaxy')
  const e = results.find(result => result.system.label === 'etcd')
  const out: string[] = [...machine, '']
  const line = (label: string, pick: (result: SystemResult) => number | number[], format: (n: number) => string, lowerIsBetter: boolean): void => {
    const values = (result: SystemResult | undefined): number[] => result === undefined ? [] : [pick(result)].flat()
    // Several values (a row's repeats): their median, and their range beside it.
    const cell = (list: number[]): string => list.length > 1 ? `${format(median(list))} (${format(Math.min(...list))}–${format(Math.max(...list))})` : format(list[0] ?? Number.NaN)
    const gs = values(g)
    const es = values(e)
    const ratio = median(gs) / median(es)
    const verdict = !Number.isFinite(ratio) ? '' : Math.abs(ratio - 1) < 0.05 ? 'about the same' : (ratio < 1) === lowerIsBetter ? 'galaxy better' : '**galaxy worse**'
    out.push(`| ${label} | ${cell(gs)} | ${cell(es)} | ${Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : 'n/a'} | ${verdict} |`)
  }
  const stat = (name: string, key: 'opsPerS' | 'p50' | 'p99') => (result: SystemResult): number[] => result.rows.filter(row => row.name === name).map(row => row.result[key])
  const ms = (n: number): string => Number.isFinite(n) ? `${fmt(n)} ms` : 'n/a'
  const table = (specs: RowSpec[]): void => {
    for (const spec of specs) {
      if (spec.workers === 1) {
        line(`${spec.label}: p50`, stat(spec.name, 'p50'), ms, true)
        line(`${spec.label}: p99`, stat(spec.name, 'p99'), ms, true)
        line(`${spec.label}: puts/s`, stat(spec.name, 'opsPerS'), int, false)
      } else {
        line(`${spec.label}: puts/s`, stat(spec.name, 'opsPerS'), int, false)
        line(`${spec.label}: p99`, stat(spec.name, 'p99'), ms, true)
      }
    }
  }
  out.push(`| measurement | galaxy | etcd ${e?.system.version ?? ''} | galaxy/etcd | |`, '| --- | --- | --- | --- | --- |')
  table(rowSpecs())
  line(`kill -9 of the leader → first accepted write, median of ${failovers}`, result => median(result.failovers.map(f => f.firstWriteMs)), n => Number.isFinite(n) ? `${int(n)} ms` : 'n/a', true)
  if (stops > 0) line(`SIGSTOP of the leader (hung, connections open) → first accepted write, median of ${stops}`, result => median(result.stops.map(f => f.firstWriteMs)), n => Number.isFinite(n) ? `${int(n)} ms` : 'n/a', true)
  line(`idle VmRSS of the first seed after ${idleSeconds} s`, result => result.idleRss[0] ?? Number.NaN, mib, true)
  if (agedWrites > 0) {
    table(agedSpecs())
    line(`after ${int(agedWrites)} writes: VmRSS of the first seed`, result => result.agedRss[0] ?? Number.NaN, mib, true)
  }

  if (g !== undefined && e !== undefined) {
    const turns = (specs: RowSpec[]): void => {
      for (const spec of specs.filter(spec => spec.workers === 1)) {
        const pairs = g.rows.filter(row => row.name === spec.name).flatMap((row, i) => {
          const other = e.rows.filter(row => row.name === spec.name)[i]
          return row.windowRates.map((rate, j) => [rate, other?.windowRates[j] ?? Number.NaN] as const)
        }).filter(([, other]) => Number.isFinite(other))
        if (pairs.length === 0) continue
        const ahead = pairs.filter(([mine, other]) => mine > other).length
        const ratios = Float64Array.from(pairs.map(([mine, other]) => mine / other)).sort()
        out.push(`- ${spec.label}: galaxy's window had the higher rate in ${ahead} of ${pairs.length} turns; galaxy/etcd turn by turn: median ${fmt(quantile(ratios, 0.5))}, quartiles ${fmt(quantile(ratios, 0.25))}–${fmt(quantile(ratios, 0.75))}`)
      }
    }
    out.push('', `Sequential rows, window by window (each turn: a ${pairedWindowMs / 1000} s window of each system, back to back):`, '')
    turns(rowSpecs())
    if (agedWrites > 0) turns(agedSpecs())
  }

  out.push('', 'Details:', '')
  for (const result of results) {
    const s = result.system
    out.push(`${s.label} (${s.version}): puts are ${s.putDescription}.`)
    out.push(`  VmRSS, members 1–3: idle after ${idleSeconds} s ${result.idleRss.map(mib).join(', ')}; after the load rows ${result.loadedRss.map(mib).join(', ')}${result.agedRss.length > 0 ? `; after ${int(agedWrites)} writes ${result.agedRss.map(mib).join(', ')}` : ''}`)
    out.push(`  idle after ${idleSeconds} s, RssAnon / RssFile of members 1–3 (VmRSS is their sum and shared memory): ${result.idleAnon.map((anon, i) => `${mib(anon)} / ${mib(result.idleFile[i] ?? Number.NaN)}`).join(', ')}`)
    out.push(`  CPU used while idle for ${idleSeconds} s, members 1–3: ${result.idleCpu.map(c => `${fmt(c)} s (${fmt(100 * c / idleSeconds, 1)} %)`).join(', ')}`)
    for (const r of result.rows) out.push(`  ${r.name.padEnd(19)} → ${r.endpoints}; ${int(r.writesBefore)} writes before: ${describe(r.result)}${r.windowRates.length > 0 ? `; puts/s in its windows: ${r.windowRates.map(int).join(', ')}` : ''}`)
    if (result.fill.result !== undefined) out.push(`  fill to ${int(agedWrites)} writes: ${int(result.fill.writes)} reached in ${fmt(result.fill.seconds, 0)} s; last window: ${describe(result.fill.result)}`)
    for (const { label: what, results } of Object.values(leaderFaults)) {
      const list = result[results]
      if (list.length === 0) continue
      const times = list.map(f => f.firstWriteMs)
      out.push(`  ${what} → first accepted write, each run (ms): ${times.map(t => t.toFixed(0)).join(', ')}; min ${int(Math.min(...times))}, median ${int(median(times))}, max ${int(Math.max(...times))}`)
      out.push(`  ${what} → first "became leader" in a survivor's log (ms, wall clock): ${list.map(f => Number.isNaN(f.electedMs) ? '?' : f.electedMs.toFixed(0)).join(', ')}`)
      out.push(`  ${what} → sending of that first accepted write (ms): ${list.map(f => f.firstWriteSentMs.toFixed(0)).join(', ')}`)
      for (const [i, f] of list.entries()) {
        const failed = [...f.failedProbes].map(([kind, count]) => `${count} × ${kind}`).join(', ')
        out.push(`    #${i + 1}: ${what} ${f.killed}, new leader ${f.newLeader} at term ${f.term}; probes sent after the signal that failed: ${failed === '' ? 'none' : failed}${f.firstFailure === '' ? '' : ` (first: ${f.firstFailure})`}`)
      }
    }
    out.push('')
  }
  process.stdout.write(`${out.join('\n')}\n`)
}

function machineFacts (galaxy: Galaxy | undefined, etcd: Etcd | undefined): string[] {
  const git = (args: string[]): string => spawnSync('git', args, { cwd: root }).stdout?.toString().trim() ?? ''
  const head = git(['rev-parse', '--short=12', 'HEAD'])
  const dirty = git(['status', '--porcelain', '--untracked-files=no']).split('\n').filter(line => line !== '').length
  const os = readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="([^"]+)"/)?.[1] ?? 'linux'
  return [
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}, ${os}; load average at the start ${loadavg().map(l => l.toFixed(2)).join(' ')}`,
    `Client: node ${process.version}, one process, node:http with keep-alive agents, ${valueBytes}-byte values; each load row ${repeats} time${repeats === 1 ? '' : 's'} per system (the table: their median, and their range in brackets), ${seconds} s each after a warm-up of ${warmupMs / 1000} s and ${warmupPuts.toLocaleString('en-US')} puts (at most ${warmupMaxMs / 1000} s); ${galaxy !== undefined && etcd !== undefined ? `in the sequential rows each repeat's ${seconds} s are windows of ${pairedWindowMs / 1000} s taken in turn with the other system's, each after ${pairedLeadInMs} ms uncounted; ` : ''}${clients} closed-loop clients in the concurrent rows; keys cycle over 1,000 (sequential) and 100,000 (concurrent) keys`,
    `galaxy: ${galaxy?.version ?? 'not run'}; repository HEAD ${head}${dirty > 0 ? ` with ${dirty} modified tracked files` : ''}`,
    `etcd: ${etcd?.version ?? 'not run'} (--heartbeat-interval 100 --election-timeout 1000 --pre-vote=true); galaxy: tick ${nodeTimings.tickMs} ms, heartbeat ${nodeTimings.heartbeatTicks} ticks, election ${nodeTimings.electionTicks} ticks, pre-vote and check-quorum`,
    `Failover: ${failovers} kills (kill -9) and ${stops} stops (SIGSTOP, then SIGCONT once a survivor took a write) of the leader per system; a put every ${probeEveryMs} ms to the two survivors alternately, ${probeTimeoutMs} ms timeout each; a killed member restarts on its data dir, and either catches up before the next`,
    `Both clusters run side by side for the whole run (the one not being measured idles); rows and kills alternate between them. Before a row the idle cluster settles: ${settleAfterLoadMs / 1000} s after its own last load, then until its members use less than ${settledCpuShare} of a core together (at most ${settleMaxMs / 1000} s). Clients, members and any other work on the machine share the same cores.`,
    `Order: idle → ${runInSeconds > 0 ? `a run-in of ${runInSeconds} s each (${clients} clients over all members, not counted) → ` : ''}load rows → ${failovers} kills each → ${stops} stops each → ${agedWrites > 0 ? `filled to ${int(agedWrites)} acknowledged writes each where the rows before wrote fewer (galaxy keeps the last ${int(maxHistoryEvents)} events of watch history) → ${runInSeconds > 0 ? 'another run-in each, since the kills restarted members → ' : ''}the aged rows` : 'done'}`
  ]
}

// ---- main ----

let exitCode = 0
try {
  const etcd = systems.includes('etcd') ? new Etcd(ensureEtcd()) : undefined
  const built = systems.includes('galaxy') ? ensureGalaxy() : undefined
  const galaxy = built === undefined ? undefined : new Galaxy(built.command, built.prefix)
  const machine = machineFacts(galaxy, etcd)
  machine.push(`Memory: ${dropPageCache()}`)
  for (const line of machine) log(line)
  const subjects: System[] = []
  for (const system of systems) {
    const subject = system === 'etcd' ? etcd : system === 'galaxy' ? galaxy : undefined
    if (subject === undefined) throw new Error(`--systems: unknown system ${system}`)
    subjects.push(subject)
  }
  let results: SystemResult[]
  try {
    results = await measureAll(subjects)
  } catch (error) {
    for (const subject of subjects) {
      for (const member of subject.members) log(`${subject.label} ${member.name} log tail:\n    ${tail(`${member.logBase}.stderr`)}\n    ${tail(`${member.logBase}.log`)}`)
    }
    throw error
  }
  machine.push(`Load average at the end ${loadavg().map(l => l.toFixed(2)).join(' ')}; whole run ${((now() - started) / 1000).toFixed(0)} s`)
  report(results, machine)
} catch (error) {
  log(`error: ${(error as Error).stack ?? String(error)}`)
  exitCode = 1
} finally {
  clearTimeout(hardStop)
  await cleanup()
}
process.exit(exitCode)
