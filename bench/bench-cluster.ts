// The clusters of the job benches: a small equivalent of test/helpers/galaxy-process.ts (which
// imports ava's test runner, so it cannot run outside ava): `galaxy up` from source, or a built
// executable, on 127.0.0.1 in a temp dir.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { rmdir } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NodeId } from '../src/lib/ids.js'
import { silentLogger } from '../src/lib/logger.js'
import { cgroupParentOf } from '../src/node/agent/node-agent.js'
import { ApiClient } from '../src/node/api/client.js'
import { ContainerRuntime } from '../src/runtime/container/container-runtime.js'
import { detectIsolation } from '../src/runtime/container/isolation.js'
import type { StatusBody } from '../src/node/api/wire.js'

export const repoRoot = join(import.meta.dirname, '..')
const mainScript = join(repoRoot, 'src', 'cli', 'main.ts')

export async function sleep (delayMs: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, delayMs))
}

export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

/** One `galaxy up` process: `node --import tsx src/cli/main.ts up ...`, or `<--galaxy> up ...`. */
export class GalaxyProcess {
  child: ChildProcess | undefined
  stdout = ''
  stderr = ''
  private exited: Promise<number | null> = Promise.resolve(null)

  constructor (readonly name: string, readonly dataDir: string, readonly listenPort: number, readonly apiPort: number, private readonly args: readonly string[], private readonly galaxyPath: string | undefined) {}

  get pid (): number { return this.child?.pid ?? 0 }
  get listen (): string { return `127.0.0.1:${this.listenPort}` }
  get running (): boolean { return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null }

  async start (withinMs = 60_000): Promise<void> {
    this.stdout = ''
    this.stderr = ''
    const command = this.galaxyPath === undefined ? [process.execPath, '--import', 'tsx', mainScript, 'up', ...this.args] : [this.galaxyPath, 'up', ...this.args]
    const child = spawn(command[0] ?? '', command.slice(1), {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', TMPDIR: process.env.TMPDIR ?? '/tmp' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    this.child = child
    this.exited = new Promise(resolve => { child.once('exit', code => { resolve(code) }) })
    child.stdout.on('data', (chunk: Buffer) => { this.stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { this.stderr = (this.stderr + chunk.toString()).slice(-2_000_000) })
    const deadline = Date.now() + withinMs
    while (!this.stdout.includes(' is up in cluster ')) {
      if (!this.running) throw new Error(`${this.name} exited with ${child.exitCode ?? child.signalCode}: ${this.stderr.trim().split('\n').slice(-5).join(' | ')}`)
      if (Date.now() > deadline) throw new Error(`${this.name} did not come up within ${withinMs} ms`)
      await sleep(50)
    }
  }

  async kill (): Promise<void> {
    if (this.running) this.child?.kill('SIGKILL')
    await this.exited
  }

  async stop (withinMs = 20_000): Promise<void> {
    if (!this.running) return
    this.child?.kill('SIGTERM')
    const timer = setTimeout(() => { if (this.running) this.child?.kill('SIGKILL') }, withinMs)
    await this.exited
    clearTimeout(timer)
  }

  client (token: string, requestMs = 10_000): ApiClient {
    return new ApiClient({ endpoint: { host: '127.0.0.1', port: this.apiPort }, token, timeoutMs: requestMs })
  }
}

/** Three or so nodes in one temp dir. */
export class ProcessCluster {
  readonly nodes = new Map<string, GalaxyProcess>()
  readonly root: string

  constructor (prefix: string, private readonly galaxyPath: string | undefined) {
    this.root = mkdtempSync(join(tmpdir(), prefix))
  }
  private tokenText: string | undefined

  get token (): string {
    this.tokenText ??= readFileSync(join(this.node('n1').dataDir, 'admin.token'), 'utf8').trim()
    return this.tokenText
  }

  node (name: string): GalaxyProcess {
    const node = this.nodes.get(name)
    if (node === undefined) throw new Error(`no node ${name}`)
    return node
  }

  async add (spec: { name: string, seed?: boolean, join?: readonly string[], flags: readonly string[] }): Promise<GalaxyProcess> {
    const [listenPort, apiPort] = [await freePort(), await freePort()]
    const dataDir = join(this.root, spec.name)
    const args = ['--name', spec.name, '--data', dataDir, '--listen', `127.0.0.1:${listenPort}`, '--api', `127.0.0.1:${apiPort}`]
    if (spec.seed === true) args.push('--seed')
    args.push(...spec.flags)
    for (const name of spec.join ?? []) args.push('--join', this.node(name).listen)
    if ((spec.join ?? []).length > 0) args.push('--key-file', join(this.node('n1').dataDir, 'cluster.key'))
    const node = new GalaxyProcess(spec.name, dataDir, listenPort, apiPort, args, this.galaxyPath)
    this.nodes.set(spec.name, node)
    await node.start()
    return node
  }

  client (name: string, requestMs?: number): ApiClient {
    return this.node(name).client(this.token, requestMs)
  }

  async waitStatus (name: string, check: (status: StatusBody) => boolean, withinMs = 30_000): Promise<StatusBody> {
    const deadline = Date.now() + withinMs
    let last: unknown
    while (Date.now() < deadline) {
      try {
        const status = await this.client(name, 2000).status()
        if (check(status)) return status
        last = status
      } catch (error) {
        last = (error as Error).message
      }
      await sleep(100)
    }
    throw new Error(`${name}: condition not met within ${withinMs} ms; last: ${JSON.stringify(last)}`)
  }

  async leaderName (name: string): Promise<string> {
    return (await this.waitStatus(name, status => status.leader !== null)).leader?.name ?? ''
  }
}

// ---------------------------------------------------------------------------------------------
// What a cluster left on the machine, and the clean-up.

const isolation = await detectIsolation()

/** What was still there after a clean-up. */
export interface Leftovers {
  readonly processes: number
  readonly cgroups: number
  readonly tempDir: boolean
}

const ms = (x: number): string => `${Math.round(x).toLocaleString('en')} ms`

/** Every process id on the machine. */
export function pids (): number[] {
  return readdirSync('/proc').filter(name => /^\d+$/.test(name)).map(Number)
}

/** A process's command line, with spaces between its arguments; empty when it is gone. */
export function cmdline (pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ') } catch { return '' }
}

/**
 * Processes of this bench's cluster: the nodes and AppWorkers (their command lines name the temp
 * dir), and anything in a cgroup of one of its nodes or working under the temp dir (the tasks).
 */
export function clusterProcesses (root: string, nodeIds: ReadonlyMap<string, NodeId>): Array<{ pid: number, kind: 'node' | 'appworker' | 'task', cmd: string }> {
  const parents = [...nodeIds.values()].map(id => `/${cgroupParentOf(id)}/`)
  const found: Array<{ pid: number, kind: 'node' | 'appworker' | 'task', cmd: string }> = []
  for (const pid of pids()) {
    if (pid === process.pid) continue
    const cmd = cmdline(pid)
    let cgroup = ''
    let cwd = ''
    try { cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8') } catch {}
    try { cwd = readlinkSync(`/proc/${pid}/cwd`) } catch {}
    if (cmd.includes(root)) found.push({ pid, kind: cmd.includes(' appworker ') ? 'appworker' : cmd.includes(' up ') ? 'node' : 'task', cmd })
    else if (parents.some(parent => cgroup.includes(parent)) || cwd.startsWith(root)) found.push({ pid, kind: 'task', cmd })
  }
  return found
}

export function foreignGalaxyProcesses (root: string): number {
  return pids().filter(pid => pid !== process.pid && /galaxy|src\/cli\/main\.ts|appworker/.test(cmdline(pid)) && !cmdline(pid).includes(root)).length
}

export function cgroupDirsOf (id: NodeId): string[] {
  return [...new Set(isolation.placements.filter(p => p.version !== 'missing').map(p => join(p.root, cgroupParentOf(id))))].filter(dir => existsSync(dir))
}

export async function waitAllContainersGone (c: ProcessCluster, withinMs: number, requestMs: number): Promise<void> {
  const deadline = Date.now() + withinMs
  let counts: number[] = []
  while (Date.now() < deadline) {
    try {
      counts = await Promise.all([...c.nodes.values()].filter(node => node.running).map(async node => (await node.client(c.token, requestMs).agent()).containers.length))
      if (counts.every(count => count === 0)) return
    } catch {}
    await sleep(100)
  }
  throw new Error(`containers still on the nodes after ${withinMs} ms: ${counts.join(', ')}`)
}

// ---------------------------------------------------------------------------------------------
// Clean-up: remove jobs, wait for containers gone, stop the nodes, then make sure nothing is left.

/**
 * Leaves nothing behind: restarts nodes killed during a run (they hold containers until they run
 * again), removes every job and waits for the containers to go, stops the nodes (the Raft leader
 * first, so that it can hand over), destroys kept container dirs, kills any leftover process,
 * removes the nodes' cgroup parents and the temp dir; answers what was still there.
 */
export async function cleanUpCluster (c: ProcessCluster, nodeIds: ReadonlyMap<string, NodeId>, limits: { readonly requestMs: number, readonly removeMs: number, readonly stopMs: number }, log: (line: string) => void): Promise<Leftovers> {
  // A node killed during a run holds containers until it runs again.
  for (const node of c.nodes.values()) {
    if (node.running) continue
    await node.start().catch(error => { log(`clean-up: restarting ${node.name}: ${(error as Error).message}`) })
  }
  const live = [...c.nodes.values()].find(node => node.running)
  if (live !== undefined) {
    const client = live.client(c.token, limits.requestMs)
    for (const job of (await client.jobs().catch(() => ({ jobs: [] }))).jobs) await client.jobOperation(job.name, 'remove').catch(() => undefined)
    await waitAllContainersGone(c, limits.removeMs, limits.requestMs).catch(error => { log(`clean-up: ${(error as Error).message}`) })
  }
  const leader = live === undefined ? undefined : await live.client(c.token, 2000).status().then(status => status.leader?.name, () => undefined)
  const stopAt = performance.now()
  const stop = async (node: GalaxyProcess): Promise<void> => {
    const from = node.stderr.length
    await node.stop(limits.stopMs)
    const tookMs = performance.now() - stopAt
    log(`clean-up: ${node.name} stopped (SIGTERM) in ${ms(tookMs)}`)
    if (tookMs > 5000) log(`clean-up: ${node.name} logged while stopping:\n${node.stderr.slice(from).trim().split('\n').slice(-8).join('\n')}`)
  }
  const first = leader === undefined ? undefined : c.nodes.get(leader)
  if (first !== undefined) await stop(first)
  await Promise.all([...c.nodes.values()].filter(node => node !== first).map(stop))
  const afterStop = clusterProcesses(c.root, nodeIds)
  if (afterStop.length > 0) log(`clean-up: ${afterStop.length} processes left after the nodes stopped: ${afterStop.map(p => `${p.pid} ${p.kind}`).join(', ')}`)
  // A removed container's directory stays a while by design (its logs); a container that was
  // not removed would still have processes. Then the nodes' cgroup parents.
  let dirs = 0
  for (const node of c.nodes.values()) {
    const containers = join(node.dataDir, 'containers')
    for (const entry of existsSync(containers) ? readdirSync(containers) : []) {
      const opened = await ContainerRuntime.open(join(containers, entry), silentLogger).catch(() => undefined)
      if (opened === undefined) continue
      dirs++
      await opened.runtime.destroy(opened.id, 0, 0)
    }
  }
  if (dirs > 0) log(`clean-up: destroyed ${dirs} container dirs the nodes kept`)
  for (const leftover of clusterProcesses(c.root, nodeIds)) {
    log(`clean-up: killing leftover ${leftover.kind} ${leftover.pid}: ${leftover.cmd.slice(0, 160)}`)
    try { process.kill(leftover.pid, 'SIGKILL') } catch {}
  }
  await sleep(200)
  for (const id of nodeIds.values()) for (const dir of cgroupDirsOf(id)) await rmdir(dir).catch(error => { log(`clean-up: rmdir ${dir}: ${(error as Error).message}`) })
  await Promise.all([...c.nodes.values()].map(async node => { await node.kill() }))
  const processes = clusterProcesses(c.root, nodeIds).length
  const cgroups = [...nodeIds.values()].reduce((sum, id) => sum + cgroupDirsOf(id).length, 0)
  rmSync(c.root, { recursive: true, force: true })
  return { processes, cgroups, tempDir: existsSync(c.root) }
}
