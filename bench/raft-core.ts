// Raft core throughput and commit latency: three cores in one process, wired by an in-memory
// network, each persisting its Readies to its own level database on disk (one synced batch per
// Ready). Proposers submit to the leader and wait until the leader applies their entry.
//
// Usage: node --import tsx bench/raft-core.ts [--seconds 5] [--proposers 1,64] [--bytes 100]
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { NodeId } from '../src/lib/ids.js'
import { silentLogger } from '../src/lib/logger.js'
import { SeededRng } from '../src/lib/rng.js'
import { LevelRaftStorage } from '../src/node/raft-storage.js'
import { RawNode } from '../src/raft/raw-node.js'
import type { Entry, Message } from '../src/raft/types.js'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, proposers: { type: 'string', default: '1,64' }, bytes: { type: 'string', default: '100' } } })
const seconds = Number(values.seconds)
const payloadBytes = Number(values.bytes)

class BenchNode {
  readonly inbox: Message[] = []
  private scheduled = false
  private busy = false
  readonly waiting = new Map<string, () => void>()
  saves = 0

  constructor (readonly id: NodeId, readonly raw: RawNode, readonly storage: LevelRaftStorage, private readonly peers: Map<NodeId, BenchNode>) {}

  /** Runs the Ready loop soon, once, however many events asked for it. */
  wake (): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => { this.scheduled = false; void this.pump() })
  }

  private async pump (): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      for (;;) {
        for (const message of this.inbox.splice(0)) this.raw.step(message)
        if (!this.raw.hasReady()) break
        const ready = this.raw.ready()
        // Persist before sending: one synced batch for the whole Ready.
        await this.storage.save(ready)
        this.saves++
        for (const message of ready.messages) {
          const peer = this.peers.get(message.to)
          if (peer === undefined) continue
          peer.inbox.push(message)
          peer.wake()
        }
        for (const entry of ready.committedEntries) this.apply(entry)
        this.raw.advance(ready)
      }
    } finally {
      this.busy = false
    }
    if (this.inbox.length > 0 || this.raw.hasReady()) this.wake()
  }

  private apply (entry: Entry): void {
    if (entry.type === 'confChange') {
      this.raw.applyConfChange(entry)
      return
    }
    if (entry.data.byteLength === 0) return
    const key = new TextDecoder().decode(entry.data.subarray(0, 16))
    const done = this.waiting.get(key)
    if (done !== undefined) {
      this.waiting.delete(key)
      done()
    }
  }
}

async function startCluster (dir: string): Promise<BenchNode[]> {
  const ids = ['1', '2', '3'] as NodeId[]
  const peers = new Map<NodeId, BenchNode>()
  for (const [i, id] of ids.entries()) {
    const storage = await LevelRaftStorage.open(join(dir, id))
    await storage.save({ entries: ids.map((node, j) => ({ term: 1, index: j + 1, type: 'confChange' as const, change: { type: 'addVoter' as const, node } })), hardState: { term: 1, vote: null, commit: ids.length } })
    const raw = new RawNode({ id, rng: new SeededRng(i + 1), logger: silentLogger }, storage)
    peers.set(id, new BenchNode(id, raw, storage, peers))
  }
  const nodes = [...peers.values()]
  for (const node of nodes) node.wake()
  await new Promise(resolve => setTimeout(resolve, 50))
  nodes[0]?.raw.campaign()
  nodes[0]?.wake()
  while (nodes[0]?.raw.basicStatus().role !== 'leader' || nodes[0].raw.basicStatus().commit < 4) await new Promise(resolve => setTimeout(resolve, 5))
  return nodes
}

async function run (proposers: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'galaxy-raft-bench-'))
  const nodes = await startCluster(dir)
  const leader = nodes[0] as BenchNode
  const latencies: number[] = []
  const padding = 'x'.repeat(Math.max(0, payloadBytes - 16))
  let sequence = 0
  const deadline = performance.now() + seconds * 1000
  const savesBefore = nodes.map(node => node.saves)
  const started = performance.now()
  await Promise.all(Array.from({ length: proposers }, async () => {
    while (performance.now() < deadline) {
      const key = String(++sequence).padStart(16, '0')
      const committed = new Promise<void>(resolve => leader.waiting.set(key, resolve))
      const proposedAt = performance.now()
      const accepted = leader.raw.propose(new TextEncoder().encode(key + padding))
      if (!accepted.ok) throw new Error(`proposal refused: ${accepted.reason}`)
      leader.wake()
      await committed
      latencies.push(performance.now() - proposedAt)
    }
  }))
  const elapsedS = (performance.now() - started) / 1000
  const saves = nodes.map((node, i) => node.saves - (savesBefore[i] as number))
  for (const node of nodes) await node.storage.close()
  rmSync(dir, { recursive: true, force: true })
  latencies.sort((a, b) => a - b)
  const at = (q: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] as number).toFixed(2)
  return `| ${proposers} | ${latencies.length} | ${Math.round(latencies.length / elapsedS)} | ${at(0.5)} ms | ${at(0.99)} ms | ${(latencies.length / (saves[0] as number)).toFixed(1)} |`
}

console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}; ${seconds} s per row, ${payloadBytes}-byte proposals, level storage with sync:true`)
console.log('\n| proposers | committed | proposals/s | p50 commit | p99 commit | proposals per leader fsync |\n| --- | --- | --- | --- | --- | --- |')
for (const count of values.proposers.split(',').map(Number)) console.log(await run(count))
