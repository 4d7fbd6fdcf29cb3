import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ApiClient } from '../../src/node/api/client.js'
import type { StatusBody } from '../../src/node/api/wire.js'
import { freePort } from './free-port.js'
import { destroyNodeLeftovers, printedNodeId } from './node-leftovers.js'
import { tempDir, type Teardowns } from './temp-dir.js'

const repoRoot = new URL('../../', import.meta.url).pathname
const mainScript = join(repoRoot, 'src/cli/main.ts')

/** How a test node is started. */
export interface NodeSpec {
  readonly name: string
  readonly seed?: boolean
  /** Names of running nodes to join through. */
  readonly join?: readonly string[]
  /** A key file other than the cluster's (to show a wrong key is refused). */
  readonly keyFile?: string
  /** Where it listens for nodes (default 127.0.0.1) and serves the API (default 127.0.0.1). */
  readonly listenHost?: string
  readonly apiHost?: string
  /** Run inside this network namespace (`ip netns exec`). */
  readonly netns?: string
  /** More `galaxy up` flags. */
  readonly flags?: readonly string[]
}

/** One `galaxy up` process of a test cluster, on 127.0.0.1 with its own ports and data dir. */
export class GalaxyProcess {
  child: ChildProcess | undefined
  stdout = ''
  stderr = ''
  private exited: Promise<number | null> = Promise.resolve(null)

  constructor (
    readonly name: string,
    readonly dataDir: string,
    readonly listenPort: number,
    readonly apiPort: number,
    private readonly args: readonly string[],
    /** `galaxy`: a built executable to run instead of the source (`node --import tsx src/cli/main.ts`). */
    private readonly where: { readonly joinHost: string, readonly apiHost: string, readonly netns?: string | undefined, readonly galaxy?: string | undefined } = { joinHost: '127.0.0.1', apiHost: '127.0.0.1' }
  ) {}

  get pid (): number { return this.child?.pid ?? 0 }
  get listen (): string { return `${this.where.joinHost}:${this.listenPort}` }
  get running (): boolean { return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null }

  /** Starts the process and resolves once it printed that it is up (or rejects with its stderr when it exits first). */
  async start (timeoutMs = 60_000): Promise<void> {
    this.stdout = ''
    this.stderr = ''
    const command = this.where.galaxy === undefined ? [process.execPath, '--import', 'tsx', mainScript, 'up', ...this.args] : [this.where.galaxy, 'up', ...this.args]
    if (this.where.netns !== undefined) command.unshift('ip', 'netns', 'exec', this.where.netns)
    const child = spawn(command[0] ?? '', command.slice(1), {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', TMPDIR: process.env.TMPDIR ?? '/tmp' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    this.child = child
    this.exited = new Promise(resolve => { child.once('exit', code => { resolve(code) }) })
    child.stdout.on('data', (chunk: Buffer) => { this.stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { this.stderr = (this.stderr + chunk.toString()).slice(-200_000) })
    const deadline = Date.now() + timeoutMs
    while (!this.stdout.includes(' is up in cluster ')) {
      if (!this.running) throw new Error(`${this.name} exited with ${child.exitCode ?? child.signalCode}: ${lastLines(this.stderr)}`)
      if (Date.now() > deadline) throw new Error(`${this.name} did not come up within ${timeoutMs} ms: ${lastLines(this.stderr)}`)
      await sleep(50)
    }
  }

  /** Sends a signal; `SIGKILL` is the crash, `SIGSTOP`/`SIGCONT` a pause. */
  signal (signal: NodeJS.Signals): void {
    if (this.running) this.child?.kill(signal)
  }

  /** Kills with SIGKILL and waits for the exit. */
  async kill (): Promise<void> {
    this.signal('SIGCONT')
    this.signal('SIGKILL')
    await this.exited
  }

  /** SIGTERM and waits for a clean exit; answers the exit code. */
  async stop (timeoutMs = 20_000): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null
    this.signal('SIGCONT')
    this.signal('SIGTERM')
    const timer = setTimeout(() => { this.signal('SIGKILL') }, timeoutMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }

  async waitExit (): Promise<number | null> {
    return await this.exited
  }

  client (token: string, timeoutMs = 10_000): ApiClient {
    return new ApiClient({ endpoint: { host: this.where.apiHost, port: this.apiPort }, token, timeoutMs })
  }
}

/**
 * A cluster of `galaxy up` processes in a temp dir; every process is killed when the test ends.
 * `galaxy`: a built executable for every node instead of the source.
 */
export class ProcessCluster {
  readonly nodes = new Map<string, GalaxyProcess>()
  readonly root: string
  private tokenText: string | undefined

  constructor (t: Teardowns, private readonly options: { readonly galaxy?: string | undefined } = {}) {
    this.root = tempDir(t, 'galaxy-cluster-')
    t.teardown(async () => {
      await Promise.all([...this.nodes.values()].map(async node => { await node.kill() }))
      // Containers outlive a killed node by design; before the temp dir goes, destroy them.
      for (const node of this.nodes.values()) await destroyNodeLeftovers(node.dataDir, printedNodeId(node.stdout))
    })
  }

  /** The cluster key file the first seed wrote. */
  get keyFile (): string {
    return join(this.node(this.firstName).dataDir, 'cluster.key')
  }

  get token (): string {
    this.tokenText ??= readFileSync(join(this.node(this.firstName).dataDir, 'admin.token'), 'utf8').trim()
    return this.tokenText
  }

  private firstName = ''

  node (name: string): GalaxyProcess {
    const node = this.nodes.get(name)
    if (node === undefined) throw new Error(`no node ${name}`)
    return node
  }

  /** Creates (does not start) a node process. */
  async create (spec: NodeSpec): Promise<GalaxyProcess> {
    const [listenPort, apiPort] = [await freePort(), await freePort()]
    const dataDir = join(this.root, spec.name)
    const listenHost = spec.listenHost ?? '127.0.0.1'
    const apiHost = spec.apiHost ?? '127.0.0.1'
    const args = ['--name', spec.name, '--data', dataDir, '--listen', `${listenHost}:${listenPort}`, '--api', `${apiHost}:${apiPort}`]
    if (spec.seed === true) args.push('--seed')
    args.push(...(spec.flags ?? []))
    for (const name of spec.join ?? []) args.push('--join', this.node(name).listen)
    if (spec.join !== undefined && spec.join.length > 0) args.push('--key-file', spec.keyFile ?? this.keyFile)
    if (this.nodes.size === 0) this.firstName = spec.name
    const node = new GalaxyProcess(spec.name, dataDir, listenPort, apiPort, args, { joinHost: listenHost, apiHost, netns: spec.netns, galaxy: this.options.galaxy })
    this.nodes.set(spec.name, node)
    return node
  }

  /** Creates and starts a node. */
  async add (spec: NodeSpec): Promise<GalaxyProcess> {
    const node = await this.create(spec)
    await node.start()
    return node
  }

  /**
   * Starts seeds on loopback under `names`, the first bootstrapping and the others joining through
   * it, each with `flags`; resolves once all are voters.
   */
  async addSeeds (names: readonly string[], flags?: readonly string[]): Promise<void> {
    const [first, ...rest] = names
    if (first === undefined) return
    await this.add({ name: first, flags })
    for (const name of rest) await this.add({ name, seed: true, join: [first], flags })
    await this.waitStatus(first, status => status.members.filter(member => member.suffrage === 'voter').length === names.length)
  }

  client (name: string, timeoutMs?: number): ApiClient {
    return this.node(name).client(this.token, timeoutMs)
  }

  /** Polls `status` on `name` until `check` holds; returns that status. */
  async waitStatus (name: string, check: (status: StatusBody) => boolean, timeoutMs = 30_000): Promise<StatusBody> {
    const deadline = Date.now() + timeoutMs
    let last: unknown
    while (Date.now() < deadline) {
      try {
        const status = await this.client(name, 2000).status()
        if (check(status)) return status
        last = status
      } catch (error) {
        last = error
      }
      await sleep(100)
    }
    throw new Error(`${name}: condition not met within ${timeoutMs} ms; last: ${JSON.stringify(last instanceof Error ? last.message : last)}`)
  }

  /** The current leader's name, as `name` sees it (waits for one). */
  async leaderName (name: string, timeoutMs = 30_000): Promise<string> {
    const status = await this.waitStatus(name, status => status.leader !== null, timeoutMs)
    return status.leader?.name ?? ''
  }
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

function lastLines (text: string): string {
  return text.trim().split('\n').slice(-5).join(' | ')
}
