// The clusters of the job benches (test/helpers/galaxy-process.ts, from source or a built
// executable, on 127.0.0.1 in a temp dir), what they leave on the machine, and their clean-up.
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { rmdir } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import type { NodeId } from '../src/lib/ids.js'
import { silentLogger } from '../src/lib/logger.js'
import { cgroupParentOf } from '../src/node/agent/node-agent.js'
import { ContainerRuntime } from '../src/runtime/container/container-runtime.js'
import { detectIsolation } from '../src/runtime/container/isolation.js'
import { ProcessCluster, sleep, type GalaxyProcess } from '../test/helpers/galaxy-process.js'

/**
 * A cluster of three seeds with every role, n1 first, in a temp dir under the bench's own control:
 * it runs none of the test helper's teardowns (the bench calls `cleanUpCluster`, which reports what
 * was left). `onCreated` gets the cluster before its first node starts, so that a clean-up on a
 * signal finds it; `nodeIds` is filled with each node's id.
 */
export async function startThreeNodes (options: {
  readonly galaxy: string | undefined
  readonly flags: readonly string[]
  readonly withinMs: number
  readonly nodeIds: Map<string, NodeId>
  readonly onCreated: (cluster: ProcessCluster) => void
}): Promise<ProcessCluster> {
  const started = new ProcessCluster({ teardown: () => {} }, { galaxy: options.galaxy })
  options.onCreated(started)
  await started.add({ name: 'n1', flags: options.flags })
  await started.add({ name: 'n2', seed: true, join: ['n1'], flags: options.flags })
  await started.add({ name: 'n3', seed: true, join: ['n1'], flags: options.flags })
  await started.waitStatus('n1', status => status.members.filter(member => member.suffrage === 'voter').length === 3, options.withinMs)
  for (const name of started.nodes.keys()) options.nodeIds.set(name, (await started.client(name).status()).node.id as NodeId)
  return started
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

/**
 * The bench's one clean-up (`cleanUpCluster` of the cluster it has by then, if any), run at most
 * once, and also on SIGINT or SIGTERM before the bench exits.
 */
export function cleanUpOnce (cluster: () => ProcessCluster | undefined, nodeIds: ReadonlyMap<string, NodeId>, limits: Parameters<typeof cleanUpCluster>[2], log: (line: string) => void): () => Promise<Leftovers> {
  let cleaning: Promise<Leftovers> | undefined
  const cleanUp = async (): Promise<Leftovers> => {
    const c = cluster()
    cleaning ??= c === undefined ? Promise.resolve({ processes: 0, cgroups: 0, tempDir: false }) : cleanUpCluster(c, nodeIds, limits, log)
    return await cleaning
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`)
      void cleanUp().finally(() => { process.exit(130) })
    })
  }
  return cleanUp
}

/** The machine, as the cluster benches print it. */
export function describeMachine (): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`
}

/** Logs each node's last warnings and errors, after a run failed. */
export function logNodeProblems (cluster: ProcessCluster | undefined, log: (line: string) => void): void {
  for (const node of cluster?.nodes.values() ?? []) {
    const problems = node.stderr.split('\n').filter(l => /"level":(40|50|60)|"level":"(warn|error)"/.test(l)).slice(-10)
    if (problems.length > 0) log(`${node.name} warnings/errors (last 10):\n${problems.join('\n')}`)
  }
}
