// Measures what a write costs through a node that is not a seed (issue 4: "from any node reads
// and writes the replicated store"). Three seeds (n1–n3, every role) and a non-seed n4
// (`--roles appmaster`: no agent, so no cgroups) on 127.0.0.1, `galaxy up` processes of the
// executables given. The non-seed forwards every store request to a voting seed over libp2p
// (`/galaxy/api/2`); a follower seed proposes through Raft; the leader serves it itself. For each
// endpoint and client count: closed-loop `PUT /v1/kv/<key>` with 256-byte values over node:http
// keep-alive connections (one per client), keys cycling over 100,000, after 1 s of warm-up; before
// the first row, a fresh cluster is warmed up with puts through every endpoint (--warm-up seconds).
//
// With several executables (`--galaxy A,B`) each round starts a fresh cluster of each in turn, so
// that an old and a new build alternate on the same machine.
//
// Usage: node --import tsx bench/forwarded-put.ts [--galaxy dist/galaxy[,OTHER]] [--rounds 3]
//        [--seconds 6] [--clients 1,16] [--warm-up 15]
// Build the executable first (node scripts/build.mjs; --out DIR for another). Prints one line per
// measurement and a table of medians over the rounds.
import { existsSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { loadavg } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { NodeId } from '../src/lib/ids.js'
import { cleanUpCluster, cleanUpOnce, describeMachine, logNodeProblems, startThreeNodes } from './bench-cluster.js'
import type { ProcessCluster } from '../test/helpers/galaxy-process.js'

const { values } = parseArgs({
  options: {
    galaxy: { type: 'string', default: 'dist/galaxy' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '6' },
    'warm-up': { type: 'string', default: '15' },
    clients: { type: 'string', default: '1,16' }
  }
})
const builds = values.galaxy.split(',').map(path => resolve(path))
for (const path of builds) if (!existsSync(path)) throw new Error(`${path} does not exist (build it with node scripts/build.mjs)`)
const rounds = Number(values.rounds)
const seconds = Number(values.seconds)
const clientCounts = values.clients.split(',').map(Number)
const warmUpSeconds = Number(values['warm-up'])
if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, not ${values.rounds}`)
if (!(seconds > 0)) throw new Error(`--seconds must be positive, not ${values.seconds}`)
if (!(warmUpSeconds >= 0)) throw new Error(`--warm-up must be a number of seconds, not ${values['warm-up']}`)
if (clientCounts.some(n => !Number.isSafeInteger(n) || n < 1)) throw new Error(`--clients must be positive integers, not ${values.clients}`)

const limits = { clusterMs: 60_000, removeMs: 30_000, stopMs: 20_000, requestMs: 10_000, warmUpMs: 1000, putTimeoutMs: 5000 } as const
const value = Buffer.alloc(256, 'x').toString('base64')
const body = JSON.stringify({ value })

let cluster: ProcessCluster | undefined
const nodeIds = new Map<string, NodeId>()
const log = (line: string): void => { console.error(`[${new Date().toISOString().slice(11, 23)}] ${line}`) }
/** On SIGINT or SIGTERM, and after a failure: the clean-up of the cluster of the moment. */
const cleanUp = cleanUpOnce(() => cluster, nodeIds, limits, log)

async function put (agent: Agent, port: number, token: string, key: string): Promise<void> {
  await new Promise<void>((resolvePut, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'PUT', path: `/v1/kv/${key}`, agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, res => {
      res.resume()
      res.on('end', () => { if (res.statusCode === 200) resolvePut(); else reject(new Error(`HTTP ${res.statusCode ?? 0}`)) })
    })
    req.on('error', reject)
    req.setTimeout(limits.putTimeoutMs, () => req.destroy(new Error('timeout')))
    req.end(body)
  })
}

interface Row { readonly putsPerSecond: number, readonly p50: number, readonly p99: number, readonly errors: number }

/** `clients` closed loops of puts to one API port for `seconds`, after the warm-up. */
async function load (port: number, token: string, clients: number, forSeconds = seconds): Promise<Row> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients })
  try {
    const warmEnd = performance.now() + limits.warmUpMs
    await Promise.all(Array.from({ length: clients }, async (_, w) => { while (performance.now() < warmEnd) await put(agent, port, token, `warm-${w}`).catch(() => {}) }))
    const latencies: number[] = []
    let errors = 0
    let n = 0
    const started = performance.now()
    const end = started + forSeconds * 1000
    await Promise.all(Array.from({ length: clients }, async (_, w) => {
      while (performance.now() < end) {
        const key = `k${String((w * 7919 + n++) % 100_000).padStart(6, '0')}`
        const sent = performance.now()
        try {
          await put(agent, port, token, key)
          latencies.push(performance.now() - sent)
        } catch {
          errors++
        }
      }
    }))
    const windowS = (performance.now() - started) / 1000
    latencies.sort((a, b) => a - b)
    const rank = (q: number): number => latencies[Math.max(0, Math.ceil(q * latencies.length) - 1)] ?? NaN
    return { putsPerSecond: latencies.length / windowS, p50: rank(0.5), p99: rank(0.99), errors }
  } finally {
    agent.destroy()
  }
}

const results = new Map<string, Row[]>()
const record = (key: string, row: Row): void => { results.set(key, [...(results.get(key) ?? []), row]) }

async function measureRound (round: number, galaxy: string): Promise<void> {
  nodeIds.clear()
  const c = await startThreeNodes({ galaxy, flags: [], withinMs: limits.clusterMs, nodeIds, onCreated: created => { cluster = created } })
  await c.add({ name: 'n4', join: ['n1'], flags: ['--roles', 'appmaster'] })
  const leader = await c.leaderName('n1')
  const follower = ['n1', 'n2', 'n3'].find(name => name !== leader) ?? 'n2'
  const endpoints: Array<[string, string]> = [['non-seed', 'n4'], ['follower', follower], ['leader', leader]]
  // A fresh cluster serves its first minute of puts slower (its code not yet optimized): the most
  // clients through each endpoint for a third of the warm-up first, not measured.
  for (const [, name] of endpoints) await load(c.node(name).apiPort, c.token, Math.max(...clientCounts), warmUpSeconds / endpoints.length)
  for (const clients of clientCounts) {
    for (const [what, name] of endpoints) {
      const row = await load(c.node(name).apiPort, c.token, clients)
      record(`${galaxy}\t${what}\t${clients}`, row)
      log(`round ${round}, ${galaxy}: ${what} (${name}), ${clients} client${clients === 1 ? '' : 's'}: ${Math.round(row.putsPerSecond)} puts/s, p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, errors ${row.errors}`)
    }
  }
  const left = await cleanUpCluster(c, nodeIds, limits, log)
  cluster = undefined
  if (left.processes > 0 || left.cgroups > 0 || left.tempDir) throw new Error(`the cluster left ${left.processes} processes, ${left.cgroups} cgroups, temp dir ${left.tempDir ? 'kept' : 'gone'}`)
}

let failure: Error | undefined
try {
  log(`machine: ${describeMachine()}; load ${loadavg().map(x => x.toFixed(2)).join(' ')}`)
  for (let round = 1; round <= rounds; round++) {
    for (const galaxy of builds) await measureRound(round, galaxy)
  }
} catch (error) {
  failure = error as Error
  log(`failed: ${failure.stack ?? failure.message}`)
  logNodeProblems(cluster, log)
} finally {
  if (cluster !== undefined) await cleanUp()
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 === 1 ? s[s.length >> 1] ?? NaN : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2 }
console.log(`\nPuts through each kind of node: 3 seeds and 1 non-seed on 127.0.0.1, ${seconds} s per row after ${warmUpSeconds} s of warm-up per cluster, ${rounds} round${rounds === 1 ? '' : 's'} (medians; range in brackets)`)
console.log(`Machine: ${describeMachine()}\n`)
console.log('| build | endpoint | clients | puts/s | p50 | p99 | errors |')
console.log('| --- | --- | --- | --- | --- | --- | --- |')
for (const [key, rows] of results) {
  const [galaxy, what, clients] = key.split('\t')
  const puts = rows.map(row => row.putsPerSecond)
  const p50 = rows.map(row => row.p50)
  console.log(`| ${galaxy ?? ''} | ${what ?? ''} | ${clients ?? ''} | ${Math.round(median(puts))} (${Math.round(Math.min(...puts))}–${Math.round(Math.max(...puts))}) | ${median(p50).toFixed(2)} ms (${Math.min(...p50).toFixed(2)}–${Math.max(...p50).toFixed(2)}) | ${median(rows.map(row => row.p99)).toFixed(2)} ms | ${rows.reduce((sum, row) => sum + row.errors, 0)} |`)
}
process.exit(failure === undefined ? 0 : 1)
