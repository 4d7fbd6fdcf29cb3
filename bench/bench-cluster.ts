// The clusters of the job benches: a small equivalent of test/helpers/galaxy-process.ts (which
// imports ava's test runner, so it cannot run outside ava): `galaxy up` from source, or a built
// executable, on 127.0.0.1 in a temp dir.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiClient } from '../src/node/api/client.js'
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
