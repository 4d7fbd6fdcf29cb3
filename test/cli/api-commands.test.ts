import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import test, { type ExecutionContext } from 'ava'
import { runCli } from '../../src/cli/cli.js'
import { ApiClient, BadResponseError, ConnectionLostError, RequestTimeoutError } from '../../src/node/api/client.js'
import type { KeyValueBody, MemberBody, NodeBody, StatusBody, WatchLine } from '../../src/node/api/wire.js'
import { freePort } from '../helpers/free-port.js'
import { tempDir } from '../helpers/temp-dir.js'
import { runGalaxy, type CliRun } from './run.js'

// These tests check what the CLI sends and how it shows the answers, against a stand-in node
// that answers the routes of src/node/api/wire.ts with canned bodies and records each request.

/** One request as the stand-in node saw it; `path` is still percent-encoded. */
interface Recorded {
  readonly method: string
  readonly path: string
  readonly query: Record<string, string>
  readonly headers: IncomingMessage['headers']
  readonly body: Buffer
}

/** What a route answers: JSON (status 200 unless given), raw bytes, or a handler for streams. */
type Answer =
  | { readonly status?: number, readonly json: unknown }
  | { readonly bytes: Buffer }
  | ((request: Recorded, response: ServerResponse) => void)

interface StandIn {
  /** `--addr` for it. */
  readonly addr: string
  readonly requests: Recorded[]
}

const token = 'secret-token'

/**
 * Starts a stand-in node on 127.0.0.1:0 answering `routes` (`'GET /v1/status'`) and closed when
 * the test ends. Without the bearer token every route answers 401, as a real node does.
 */
async function startNode (t: ExecutionContext, routes: Record<string, Answer | Answer[]>): Promise<StandIn> {
  const requests: Recorded[] = []
  const calls = new Map<string, number>()
  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    incoming.on('end', () => {
      const [path = '', search = ''] = (incoming.url ?? '').split('?')
      const request: Recorded = {
        method: incoming.method ?? '', path, query: Object.fromEntries(new URLSearchParams(search)), headers: incoming.headers, body: Buffer.concat(chunks)
      }
      requests.push(request)
      if (incoming.headers.authorization !== `Bearer ${token}`) {
        sendJson(response, 401, { error: { code: 'ERR_UNAUTHORIZED', message: 'missing or wrong token: pass --token or set GALAXY_TOKEN' } })
        return
      }
      const route = `${request.method} ${path}`
      const answers = routes[route]
      // A list of answers is given out in turn, the last one repeating.
      const call = calls.get(route) ?? 0
      calls.set(route, call + 1)
      const answer = Array.isArray(answers) ? answers[Math.min(call, answers.length - 1)] : answers
      if (answer === undefined) sendJson(response, 404, { error: { code: 'ERR_NOT_FOUND', message: `no route ${route}` } })
      else if (typeof answer === 'function') answer(request, response)
      else if ('bytes' in answer) response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(answer.bytes)
      else sendJson(response, answer.status ?? 200, answer.json)
    })
  })
  await new Promise<void>(resolve => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
  return { addr: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

function sendJson (response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

/** Runs `galaxy ARGV --addr <node>` with the node's token in GALAXY_TOKEN. */
async function galaxy (node: StandIn, argv: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return await runGalaxy([...argv, '--addr', node.addr], { GALAXY_TOKEN: token, ...env })
}

/** The lines of a table, each with its runs of spaces squeezed to one, so tests do not pin column widths. */
function rows (text: string): string[] {
  return text.trimEnd().split('\n').map(line => line.trim().replace(/ {2,}/g, ' | '))
}

const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64')

const peerA = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const peerB = '12D3KooWBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
const peerC = '12D3KooWCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC'

const members: MemberBody[] = [
  { id: peerA, name: 'seed-a', suffrage: 'voter', address: '10.0.0.1:1645', leader: true, match: 120, health: 'alive' },
  { id: peerB, name: 'seed-b', suffrage: 'learner', address: '10.0.0.2:1645', leader: false, match: 98, health: 'suspect' }
]

const status: StatusBody = {
  clusterId: 'c-7f3a',
  node: { id: peerA, name: 'seed-a', seed: true },
  leader: { id: peerA, name: 'seed-a' },
  term: 4,
  commit: 120,
  applied: 119,
  revision: 57,
  members,
  health: 'degraded'
}

function kv (key: string, value: string | Buffer, modRevision: number, lease = 0): KeyValueBody {
  return { key, value: b64(value), createRevision: modRevision, modRevision, version: 1, lease }
}

test('status prints the cluster, then its members; --json prints the API body', async t => {
  const node = await startNode(t, { 'GET /v1/status': { json: status } })
  const run = await galaxy(node, ['status'])
  t.is(run.exitCode, 0, run.stderr)
  t.deepEqual(rows(run.stdout), [
    `Cluster ID | c-7f3a`,
    `Node | seed-a (${peerA}), seed`,
    `Leader | seed-a (${peerA})`,
    'Term | 4',
    'Commit index | 120',
    'Applied index | 119',
    'Revision | 57',
    'Health | degraded',
    '',
    'NAME | ID | SUFFRAGE | ADDRESS | LEADER | MATCH | HEALTH',
    `seed-a | ${peerA} | voter | 10.0.0.1:1645 | true | 120 | alive`,
    `seed-b | ${peerB} | learner | 10.0.0.2:1645 | false | 98 | suspect`
  ])
  t.is(node.requests[0]?.headers.authorization, `Bearer ${token}`)
  const json = await galaxy(node, ['status', '--json'])
  t.deepEqual(JSON.parse(json.stdout), status)
  const noLeader = await startNode(t, { 'GET /v1/status': { json: { ...status, leader: null, health: 'unavailable' } } })
  t.true(rows((await galaxy(noLeader, ['status'])).stdout).includes('Leader | none'))
})

test('members and node list print their tables', async t => {
  const nodes: NodeBody[] = [{
    id: peerA, name: 'seed-a', addresses: ['10.0.0.1:1645', '[fd00::1]:1645'], roles: ['seed', 'agent'], pool: 'default',
    labels: { zone: 'b', rack: 'r1' }, raftRole: 'leader', state: 'alive', lastSeenMs: 2400,
    capacity: { cpuCores: 8, memoryBytes: 2 ** 34, diskBytes: 2 ** 40 }, uptimeMs: 1000,
    agent: {
      isolation: 'full', health: 'healthy', problems: [],
      allocated: { cpuMillicores: 1500, memoryBytes: 2 ** 30, diskBytes: 2 ** 32 },
      reserved: { cpuMillicores: 500, memoryBytes: 2 ** 29, diskBytes: 2 ** 30 },
      usage: { cpuMillicores: 730, memoryBytes: 2 ** 28 },
      containers: 3
    }
  }, {
    id: peerB, name: 'edge-1', addresses: [], roles: [], pool: 'edge', labels: {}, raftRole: 'none', state: 'dead', lastSeenMs: 125_000,
    capacity: { cpuCores: 2, memoryBytes: 2 ** 31, diskBytes: 2 ** 35 }, uptimeMs: 5, agent: null
  }, {
    id: peerC, name: 'worker-1', addresses: ['10.0.0.3:1645'], roles: ['agent'], pool: 'default', labels: {}, raftRole: 'none', state: 'alive', lastSeenMs: 900,
    capacity: { cpuCores: 4, memoryBytes: 2 ** 32, diskBytes: 2 ** 36 }, uptimeMs: 77,
    agent: {
      isolation: 'degraded', health: 'unhealthy', problems: ['cgroup mount missing: /sys/fs/cgroup/memory/galaxy', 'disk full: 10 MiB free of 65536 MiB'],
      allocated: { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0 },
      reserved: { cpuMillicores: 500, memoryBytes: 2 ** 29, diskBytes: 2 ** 30 },
      usage: { cpuMillicores: 0, memoryBytes: 0 },
      containers: 0
    }
  }]
  const node = await startNode(t, { 'GET /v1/members': { json: { members } }, 'GET /v1/nodes': { json: { nodes } } })
  t.deepEqual(rows((await galaxy(node, ['members'])).stdout), [
    'NAME | ID | SUFFRAGE | ADDRESS | LEADER | MATCH | HEALTH',
    `seed-a | ${peerA} | voter | 10.0.0.1:1645 | true | 120 | alive`,
    `seed-b | ${peerB} | learner | 10.0.0.2:1645 | false | 98 | suspect`
  ])
  t.deepEqual(rows((await galaxy(node, ['node', 'list'])).stdout), [
    'NAME | ID | ADDRESS | ROLES | POOL | LABELS | RAFT | STATE | LAST-SEEN | ISOLATION | HEALTH | CONTAINERS',
    `seed-a | ${peerA} | 10.0.0.1:1645,[fd00::1]:1645 | seed,agent | default | rack=r1,zone=b | leader | alive | 2s ago | full | healthy | 3`,
    `edge-1 | ${peerB} | - | - | edge | - | none | dead | 2m5s ago | - | - | -`,
    // An unhealthy node shows its first problem, cut to 40 characters.
    `worker-1 | ${peerC} | 10.0.0.3:1645 | agent | default | - | none | alive | 0s ago | degraded | unhealthy (cgroup mount missing: /sys/fs/cgroup/me…) | 0`
  ])
  t.deepEqual(JSON.parse((await galaxy(node, ['node', 'list', '--json'])).stdout), { nodes })
})

test('kv get prints the raw value from an encoded key path, and fails with exit 1 for a missing key', async t => {
  const binary = Buffer.from([0, 255, 10, 7])
  const node = await startNode(t, {
    'GET /v1/kv/app%2Fconfig%2Fmode': { json: { kv: kv('app/config/mode', 'blue', 4), revision: 9 } },
    'GET /v1/kv/blob': { json: { kv: kv('blob', binary, 5), revision: 9 } },
    'GET /v1/kv/nope': { json: { kv: null, revision: 9 } }
  })
  const run = await galaxy(node, ['kv', 'get', 'app/config/mode'])
  t.is(run.exitCode, 0, run.stderr)
  t.is(run.stdout, 'blue')
  t.deepEqual(node.requests[0]?.query, {})
  await galaxy(node, ['kv', 'get', 'app/config/mode', '--stale'])
  t.deepEqual(node.requests[1]?.query, { stale: '1' })
  // Binary values come out byte for byte, with no newline added off a terminal.
  const stdout = new PassThrough()
  t.is(await runCli(['kv', 'get', 'blob', '--addr', node.addr, '--token', token], { stdout, stderr: new PassThrough(), env: {} }), 0)
  t.deepEqual(stdout.read(), binary)
  const json = await galaxy(node, ['kv', 'get', 'app/config/mode', '--json'])
  t.deepEqual(JSON.parse(json.stdout), { kv: kv('app/config/mode', 'blue', 4), revision: 9 })
  const missing = await galaxy(node, ['kv', 'get', 'nope'])
  t.is(missing.exitCode, 1)
  t.is(missing.stdout, '')
  t.is(missing.stderr, 'galaxy: key "nope" not found\n')
  const missingJson = await galaxy(node, ['kv', 'get', 'nope', '--json'])
  t.deepEqual(JSON.parse(missingJson.stderr), { error: { code: 'ERR_NOT_FOUND', message: 'key "nope" not found' } })
})

test('kv put sends the value in base64 with its lease, and reads - from standard input', async t => {
  const node = await startNode(t, { 'PUT /v1/kv/app%2Fmode': { json: { revision: 12 } }, 'PUT /v1/kv/cert': { json: { revision: 13 } } })
  const run = await galaxy(node, ['kv', 'put', 'app/mode', 'blue', '--lease', '7'])
  t.is(run.exitCode, 0, run.stderr)
  t.is(run.stdout, 'key "app/mode" written at revision 12\n')
  t.is(node.requests[0]?.headers['content-type'], 'application/json')
  t.deepEqual(JSON.parse(node.requests[0]?.body.toString() ?? ''), { value: b64('blue'), lease: 7 })
  t.deepEqual(JSON.parse((await galaxy(node, ['kv', 'put', 'app/mode', 'green', '--json'])).stdout), { revision: 12 })
  t.deepEqual(JSON.parse(node.requests[1]?.body.toString() ?? ''), { value: b64('green') })

  const stdin = new PassThrough()
  const stdout = new PassThrough()
  const bytes = Buffer.from([1, 2, 3, 0, 255])
  stdin.end(bytes)
  const exitCode = await runCli(['kv', 'put', 'cert', '-', '--addr', node.addr, '--token', token], { stdin, stdout, stderr: new PassThrough(), env: {} })
  t.is(exitCode, 0)
  t.is(stdout.read()?.toString(), 'key "cert" written at revision 13\n')
  t.deepEqual(JSON.parse(node.requests[2]?.body.toString() ?? ''), { value: bytes.toString('base64') })

  const badLease = await galaxy(node, ['kv', 'put', 'a', 'b', '--lease', 'x7'])
  t.is(badLease.exitCode, 2)
  t.is(badLease.stderr, 'galaxy: --lease: "x7" is not a whole number of at least 1\n')
  t.is(node.requests.length, 3)
})

test('kv list pages through every key after the last one seen; --limit stops early', async t => {
  const page1 = { items: [kv('app/a', 'one', 3), kv('app/b', Buffer.from([0xff, 0xfe, 0]), 5, 7)], more: true, revision: 20 }
  const page2 = { items: [kv('app/c', 'line\nbreak', 8)], more: false, revision: 21 }
  const node = await startNode(t, {
    'GET /v1/kv': (request, response) => sendJson(response, 200, request.query.after === undefined ? page1 : page2)
  })
  const run = await galaxy(node, ['kv', 'list', 'app/'])
  t.is(run.exitCode, 0, run.stderr)
  t.deepEqual(rows(run.stdout), [
    'KEY | VALUE | REVISION | VERSION | LEASE',
    'app/a | one | 3 | 1 | -',
    'app/b | <3 bytes> | 5 | 1 | 7',
    'app/c | line\\nbreak | 8 | 1 | -'
  ])
  t.deepEqual(node.requests.map(r => r.query), [{ prefix: 'app/', limit: '1000' }, { prefix: 'app/', after: 'app/b', limit: '1000' }])

  const json = await galaxy(node, ['kv', 'list', 'app/', '--json', '--stale'])
  t.deepEqual(JSON.parse(json.stdout), { items: [...page1.items, ...page2.items], more: false, revision: 21 })
  t.is(node.requests[2]?.query.stale, '1')

  const limited = await galaxy(node, ['kv', 'list', 'app/', '--limit', '2'])
  t.is(limited.exitCode, 0)
  t.is(rows(limited.stdout).length, 3)
  t.is(limited.stderr, 'more keys follow; raise --limit or leave it out to list them all\n')
  t.deepEqual(node.requests.at(-1)?.query, { prefix: 'app/', limit: '2' })
  t.is(node.requests.length, 5)

  const bad = await galaxy(node, ['kv', 'list', '--limit', '0'])
  t.is(bad.exitCode, 2)
  t.is(bad.stderr, 'galaxy: --limit: "0" is not a whole number of at least 1\n')
})

test('kv list stops when the node keeps answering the same key', async t => {
  const node = await startNode(t, { 'GET /v1/kv': { json: { items: [kv('a', 'x', 1)], more: true, revision: 2 } } })
  const run = await galaxy(node, ['kv', 'list'])
  t.is(run.exitCode, 1)
  t.is(run.stderr, 'galaxy: the node answered key "a" again; listing stopped\n')
  t.is(node.requests.length, 2)
})

test('kv del deletes a key, or a prefix with --prefix', async t => {
  const node = await startNode(t, { 'DELETE /v1/kv/app%2F': { json: { revision: 30, deleted: 3 } }, 'DELETE /v1/kv/one': { json: { revision: 31, deleted: 1 } } })
  const run = await galaxy(node, ['kv', 'del', 'app/', '--prefix'])
  t.is(run.exitCode, 0, run.stderr)
  t.is(run.stdout, 'deleted 3 keys at revision 30\n')
  t.deepEqual(node.requests[0]?.query, { prefix: '1' })
  t.is((await galaxy(node, ['kv', 'delete', 'one'])).stdout, 'deleted 1 key at revision 31\n')
  t.deepEqual(node.requests[1]?.query, {})
  t.deepEqual(JSON.parse((await galaxy(node, ['kv', 'del', 'one', '--json'])).stdout), { revision: 31, deleted: 1 })
  // A node that leaves out the count (a prefix delete, say) still gets a sensible line.
  const uncounted = await startNode(t, { 'DELETE /v1/kv/app%2F': { json: { revision: 32 } } })
  t.is((await galaxy(uncounted, ['kv', 'del', 'app/', '--prefix'])).stdout, 'deleted the keys under "app/" at revision 32\n')
})

/** A watch route that streams `lines` as NDJSON, in two writes to split a line, then closes. */
function streamLines (lines: WatchLine[]): Answer {
  return (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/x-ndjson' })
    const text = lines.map(line => `${JSON.stringify(line)}\n`).join('')
    response.write(text.slice(0, 10))
    setImmediate(() => response.end(text.slice(10)))
  }
}

test('kv watch prints one line per event, skips progress, and fails when the stream ends', async t => {
  const lines: WatchLine[] = [
    { type: 'put', key: 'app/a', value: b64('one'), revision: 21, version: 1 },
    { type: 'progress', revision: 21 },
    { type: 'delete', key: 'app/b', value: '', revision: 22, version: 0 }
  ]
  const node = await startNode(t, {
    'GET /v1/kv': { json: { items: [], more: false, revision: 20 } },
    'GET /v1/watch': streamLines(lines)
  })
  const run = await galaxy(node, ['kv', 'watch', 'app/'])
  t.is(run.stdout, '21 put app/a one\n22 delete app/b\n')
  t.is(run.exitCode, 1)
  t.is(run.stderr, `galaxy: galaxy node at ${node.addr} closed the watch stream\n`)
  // Without --revision it watches from just after a fresh read.
  t.deepEqual(node.requests.map(r => `${r.method} ${r.path} ${JSON.stringify(r.query)}`), [
    'GET /v1/kv {"prefix":"app/","limit":"1"}',
    'GET /v1/watch {"prefix":"app/","revision":"21"}'
  ])

  const json = await galaxy(node, ['kv', 'watch', 'app/', '--revision', '5', '--json'])
  t.deepEqual(json.stdout.trimEnd().split('\n').map(line => JSON.parse(line) as unknown), lines)
  t.deepEqual(node.requests.at(-1)?.query, { prefix: 'app/', revision: '5' })
  t.is(node.requests.length, 3)
})

test('kv watch exits 1 with an explanation when its revision was compacted', async t => {
  const node = await startNode(t, {
    'GET /v1/watch': streamLines([{ type: 'put', key: 'k', value: b64('v'), revision: 40, version: 2 }, { type: 'compacted', compactRevision: 50 }])
  })
  const run = await galaxy(node, ['kv', 'watch', 'k', '--revision', '3'])
  t.is(run.exitCode, 1)
  t.is(run.stdout, '40 put k v\n')
  t.is(run.stderr, 'galaxy: revision 3 was compacted away (the oldest kept is 51); list the keys again and watch from the revision that returns, plus one\n')
  const json = await galaxy(node, ['kv', 'watch', 'k', '--revision', '3', '--json'])
  t.is(json.exitCode, 1)
  t.deepEqual(JSON.parse(json.stdout.trimEnd().split('\n').at(-1) ?? ''), { type: 'compacted', compactRevision: 50 })
  t.is(JSON.parse(json.stderr).error.code, 'ERR_COMPACTED')
})

test('a watch runs until its signal aborts, then ends quietly and closes the stream', async t => {
  t.timeout(10_000)
  let closed!: () => void
  const streamClosed = new Promise<void>(resolve => { closed = resolve })
  const node = await startNode(t, {
    'GET /v1/watch': (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/x-ndjson' })
      response.write(`${JSON.stringify({ type: 'progress', revision: 9 })}\n`)
      response.on('close', closed)
    }
  })
  const [host = '', port = ''] = node.addr.split(':')
  const client = new ApiClient({ endpoint: { host, port: Number(port) }, token, timeoutMs: 100 })
  const abort = new AbortController()
  const seen: WatchLine[] = []
  // The time limit of ordinary requests (100 ms) does not apply: the stream stays open past it.
  for await (const line of client.watch('', 9, { signal: abort.signal })) {
    seen.push(line)
    setTimeout(() => abort.abort(), 300)
  }
  t.deepEqual(seen, [{ type: 'progress', revision: 9 }])
  await streamClosed
  t.pass()
})

test('a request that gets no answer in time fails with ERR_TIMEOUT; a non-API answer is described', async t => {
  const node = await startNode(t, {
    'GET /v1/status': () => { /* never answers */ },
    'GET /v1/members': (_request, response) => response.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>\n')
  })
  const [host = '', port = ''] = node.addr.split(':')
  const impatient = new ApiClient({ endpoint: { host, port: Number(port) }, token, timeoutMs: 200 })
  const timeout = await t.throwsAsync(impatient.status(), { instanceOf: RequestTimeoutError })
  t.is(timeout?.message, `galaxy node at ${node.addr} did not answer within 0.2s`)
  // A patient client for the answer that does come: 0.2 s can pass before it on a loaded machine.
  const client = new ApiClient({ endpoint: { host, port: Number(port) }, token, timeoutMs: 10_000 })
  const bad = await t.throwsAsync(client.members(), { instanceOf: BadResponseError })
  t.is(bad?.message, `${node.addr} answered HTTP 502 Bad Gateway: <html>Bad Gateway</html>`)
})

test('lock acquire grants a lease of --ttl, takes the lock for the default owner and prints the fencing token', async t => {
  const node = await startNode(t, {
    'POST /v1/lease/grant': { json: { lease: 77, ttlMs: 15_000 } },
    'POST /v1/lock/acquire': (request, response) => {
      const body = JSON.parse(request.body.toString()) as { name: string, owner: string, lease: number }
      sendJson(response, 200, { name: body.name, owner: body.owner, lease: body.lease, token: 1042 })
    }
  })
  const owner = `${hostname()}-${process.pid}`
  const run = await galaxy(node, ['lock', 'acquire', 'db-migrate'])
  t.is(run.exitCode, 0, run.stderr)
  t.deepEqual(rows(run.stdout), ['Lock | db-migrate', `Owner | ${owner}`, 'Lease | 77 (ttl 15s, not kept alive)', 'Fencing token | 1042'])
  t.deepEqual(node.requests.map(r => [r.path, JSON.parse(r.body.toString())]), [
    ['/v1/lease/grant', { ttlMs: 15_000 }],
    ['/v1/lock/acquire', { name: 'db-migrate', owner, lease: 77, waitMs: 30_000 }]
  ])
  const json = await galaxy(node, ['lock', 'acquire', 'db-migrate', '--ttl', '1m30s', '--wait', '500ms', '--owner', 'ci-42', '--json'])
  t.deepEqual(JSON.parse(json.stdout), { name: 'db-migrate', owner: 'ci-42', lease: 77, token: 1042 })
  t.deepEqual(JSON.parse(node.requests[2]?.body.toString() ?? ''), { ttlMs: 90_000 })
  t.deepEqual(JSON.parse(node.requests[3]?.body.toString() ?? ''), { name: 'db-migrate', owner: 'ci-42', lease: 77, waitMs: 500 })
})

test('a busy lock fails with the API message and its lease is revoked', async t => {
  const node = await startNode(t, {
    'POST /v1/lease/grant': { json: { lease: 78, ttlMs: 15_000 } },
    'POST /v1/lock/acquire': { status: 409, json: { error: { code: 'ERR_LOCK_BUSY', message: 'lock "db-migrate" is held by ci-41' } } },
    'POST /v1/lease/revoke': { json: { revision: 90 } }
  })
  const run = await galaxy(node, ['lock', 'acquire', 'db-migrate', '--wait', '0'])
  t.is(run.exitCode, 1)
  t.is(run.stderr, 'galaxy: lock "db-migrate" is held by ci-41\n')
  t.deepEqual(node.requests.map(r => r.path), ['/v1/lease/grant', '/v1/lock/acquire', '/v1/lease/revoke'])
  t.deepEqual(JSON.parse(node.requests[2]?.body.toString() ?? ''), { lease: 78 })
  const json = await galaxy(node, ['lock', 'acquire', 'db-migrate', '--json'])
  t.deepEqual(JSON.parse(json.stderr), { error: { code: 'ERR_LOCK_BUSY', message: 'lock "db-migrate" is held by ci-41' } })
})

test('a bad duration is a usage error, exit 2, before any request', async t => {
  const node = await startNode(t, {})
  const ttl = await galaxy(node, ['lock', 'acquire', 'x', '--ttl', '15x'])
  t.is(ttl.exitCode, 2)
  t.is(ttl.stderr, 'galaxy: --ttl: duration "15x" has an unknown unit "x" (use ms, s, m or h)\n')
  const wait = await galaxy(node, ['lock', 'acquire', 'x', '--wait', '30', '--json'])
  t.is(wait.exitCode, 2)
  t.deepEqual(JSON.parse(wait.stderr), { error: { code: 'ERR_USAGE', message: '--wait: duration "30" has no unit after 30 (write it like 500ms, 15s, 2m or 1h30m)' } })
  const zero = await galaxy(node, ['lock', 'acquire', 'x', '--ttl', '0s'])
  t.is(zero.stderr, 'galaxy: --ttl: must be longer than 0s\n')
  t.is(node.requests.length, 0)
})

test('lock release sends the owner, and needs one', async t => {
  const node = await startNode(t, { 'POST /v1/lock/release': { json: { revision: 91 } } })
  const run = await galaxy(node, ['lock', 'release', 'db-migrate', '--owner', 'ci-42'])
  t.is(run.stdout, 'released lock "db-migrate" at revision 91\n')
  t.deepEqual(JSON.parse(node.requests[0]?.body.toString() ?? ''), { name: 'db-migrate', owner: 'ci-42' })
  const noOwner = await galaxy(node, ['lock', 'release', 'db-migrate'])
  t.is(noOwner.exitCode, 2)
  t.is(noOwner.stderr, 'galaxy: --owner is required: the owner that holds the lock\n')
})

test('snapshot save writes the file whole, refuses to overwrite it without --force, and restore sends it back', async t => {
  const snapshot = Buffer.from('galaxy-snapshot\u0000\u0001\u0002')
  const newer = Buffer.from('galaxy-snapshot-2')
  const node = await startNode(t, {
    'GET /v1/operator/snapshot': [{ bytes: snapshot }, { bytes: newer }],
    'POST /v1/operator/snapshot/restore': { json: { revision: 400 } }
  })
  const dir = tempDir(t)
  const file = join(dir, 'backup.snap')
  const run = await galaxy(node, ['operator', 'snapshot', 'save', file])
  t.is(run.exitCode, 0, run.stderr)
  t.is(run.stdout, `saved snapshot to ${file} (18 B)\n`)
  t.deepEqual(readFileSync(file), snapshot)
  t.deepEqual(readdirSync(dir), ['backup.snap'])

  const again = await galaxy(node, ['operator', 'snapshot', 'save', file])
  t.is(again.exitCode, 1)
  t.is(again.stderr, `galaxy: ${file} already exists; use --force to overwrite it\n`)
  t.is(node.requests.length, 1, 'nothing is downloaded for a file that would not be written')
  t.deepEqual(readFileSync(file), snapshot)

  const forced = await galaxy(node, ['operator', 'snapshot', 'save', file, '--force', '--json'])
  t.deepEqual(JSON.parse(forced.stdout), { file, bytes: newer.length })
  t.deepEqual(readFileSync(file), newer)
  t.deepEqual(readdirSync(dir), ['backup.snap'])

  const missingDir = await galaxy(node, ['operator', 'snapshot', 'save', join(dir, 'no', 'such.snap')])
  t.is(missingDir.exitCode, 1)
  t.is(missingDir.stderr, `galaxy: cannot write ${join(dir, 'no', 'such.snap')}: no such file or directory\n`)
  t.false(existsSync(join(dir, 'no')))

  const restore = await galaxy(node, ['operator', 'snapshot', 'restore', file])
  t.is(restore.exitCode, 0, restore.stderr)
  t.is(restore.stdout, `restored ${file} (17 B); the store is at revision 400\n`)
  const sent = node.requests.at(-1)
  t.is(sent?.headers['content-type'], 'application/octet-stream')
  t.deepEqual(sent?.body, newer)
  const absent = await galaxy(node, ['operator', 'snapshot', 'restore', join(dir, 'absent.snap')])
  t.is(absent.stderr, `galaxy: cannot read ${join(dir, 'absent.snap')}: no such file or directory\n`)
})

test('operator raft commands list, remove and transfer', async t => {
  const node = await startNode(t, {
    'GET /v1/operator/raft/peers': { json: { peers: members } },
    'POST /v1/operator/raft/remove-peer': { json: { ok: true } },
    'POST /v1/operator/raft/transfer-leader': (request, response) => {
      sendJson(response, 200, { leader: (JSON.parse(request.body.toString()) as { id?: string }).id ?? peerB })
    }
  })
  t.deepEqual(rows((await galaxy(node, ['operator', 'raft', 'list-peers'])).stdout), [
    'NAME | ID | ADDRESS | STATE | VOTER | MATCH | HEALTH',
    `seed-a | ${peerA} | 10.0.0.1:1645 | leader | true | 120 | alive`,
    `seed-b | ${peerB} | 10.0.0.2:1645 | learner | false | 98 | suspect`
  ])
  const lastBody = (): unknown => JSON.parse(node.requests.at(-1)?.body.toString() ?? '')
  t.is((await galaxy(node, ['operator', 'raft', 'remove-peer', peerB])).stdout, `removed peer ${peerB}\n`)
  t.deepEqual(lastBody(), { id: peerB })
  t.is((await galaxy(node, ['operator', 'raft', 'transfer-leader'])).stdout, `leadership transferred to ${peerB}\n`)
  t.deepEqual(lastBody(), {})
  t.deepEqual(JSON.parse((await galaxy(node, ['operator', 'raft', 'transfer-leader', peerA, '--json'])).stdout), { leader: peerA })
  // A peer may be named by its node name too.
  t.is((await galaxy(node, ['operator', 'raft', 'transfer-leader', 'seed-a'])).stdout, `leadership transferred to ${peerA}\n`)
  t.deepEqual(lastBody(), { id: peerA })
  t.is((await galaxy(node, ['operator', 'raft', 'remove-peer', 'seed-b'])).stdout, `removed peer ${peerB}\n`)
  t.deepEqual(lastBody(), { id: peerB })
})

test('a node name that several peers share is refused with one line and nothing is sent', async t => {
  const twins = members.map(member => ({ ...member, name: 'seed' }))
  const node = await startNode(t, { 'GET /v1/operator/raft/peers': { json: { peers: twins } } })
  for (const command of ['transfer-leader', 'remove-peer']) {
    const run = await galaxy(node, ['operator', 'raft', command, 'seed'])
    t.is(run.exitCode, 2)
    t.is(run.stderr, 'galaxy: 2 peers are named seed; give the id of one (galaxy operator raft list-peers)\n')
  }
  t.true(node.requests.every(request => request.method === 'GET'))
})

test('a missing or wrong token prints the 401 message on one line, exit 1', async t => {
  const node = await startNode(t, { 'GET /v1/status': { json: status } })
  const run = await runGalaxy(['status', '--addr', node.addr])
  t.is(run.exitCode, 1)
  t.is(run.stdout, '')
  t.is(run.stderr, 'galaxy: missing or wrong token: pass --token or set GALAXY_TOKEN\n')
  t.is(node.requests[0]?.headers.authorization, undefined)
  const json = await runGalaxy(['kv', 'get', 'a', '--addr', node.addr, '--token', 'wrong', '--json'])
  t.is(json.exitCode, 1)
  t.deepEqual(JSON.parse(json.stderr), { error: { code: 'ERR_UNAUTHORIZED', message: 'missing or wrong token: pass --token or set GALAXY_TOKEN' } })
  t.is(node.requests[1]?.headers.authorization, 'Bearer wrong')
})

test('a node that is not running is one line naming it, exit 1', async t => {
  const addr = `127.0.0.1:${await freePort()}`
  const run = await runGalaxy(['kv', 'list', '--addr', addr])
  t.is(run.exitCode, 1)
  t.is(run.stderr, `galaxy: cannot reach galaxy node at ${addr}: connection refused (is "galaxy up" running?)\n`)
  const json = await runGalaxy(['status', '--json'], { GALAXY_ADDR: addr })
  t.deepEqual(JSON.parse(json.stderr), { error: { code: 'ERR_UNREACHABLE', message: `cannot reach galaxy node at ${addr}: connection refused (is "galaxy up" running?)` } })
})

test('a connection that breaks after the request is ERR_CONNECTION_LOST, which says the write may have happened', async t => {
  const node = await startNode(t, {
    // The node read the whole request (it may have applied it), then died before answering.
    'PUT /v1/kv/a': (_request, response) => { response.socket?.destroy() }
  })
  const [host = '', port = ''] = node.addr.split(':')
  const client = new ApiClient({ endpoint: { host, port: Number(port) }, token, timeoutMs: 10_000 })
  const lost = await t.throwsAsync(client.put('a', new TextEncoder().encode('1')), { instanceOf: ConnectionLostError })
  t.regex(lost?.message ?? '', /^lost the connection to galaxy node at 127\.0\.0\.1:\d+ before its answer \(connection closed\); what was asked may or may not have been done$/)
  const run = await galaxy(node, ['kv', 'put', 'a', '1', '--json'])
  t.is(run.exitCode, 1)
  t.is(JSON.parse(run.stderr).error.code, 'ERR_CONNECTION_LOST')
  t.is(node.requests.length, 2, 'both requests reached the node')
})

test('a mistyped command suggests only the commands close to it', async t => {
  const typo = await runGalaxy(['kv', 'gte', 'a'])
  t.is(typo.exitCode, 2)
  t.is(typo.stderr, 'galaxy: unknown command "kv gte a"; did you mean galaxy kv get? (see galaxy --help)\n')
  const partial = await runGalaxy(['operator', 'snapshot'])
  t.is(partial.stderr, 'galaxy: unknown command "operator snapshot"; did you mean galaxy operator snapshot save or galaxy operator snapshot restore? (see galaxy --help)\n')
})

test('an empty key is a usage error', async t => {
  const node = await startNode(t, {})
  const run = await galaxy(node, ['kv', 'get', ''])
  t.is(run.exitCode, 2)
  t.is(run.stderr, 'galaxy: KEY must not be empty\n')
  t.is(node.requests.length, 0)
})

test('snapshot save leaves an existing file alone and says so in JSON', async t => {
  const node = await startNode(t, { 'GET /v1/operator/snapshot': { bytes: Buffer.from('x') } })
  const file = join(tempDir(t), 'precious')
  writeFileSync(file, 'keep me')
  const run = await galaxy(node, ['operator', 'snapshot', 'save', file, '--json'])
  t.is(run.exitCode, 1)
  t.deepEqual(JSON.parse(run.stderr), { error: { code: 'ERR_FILE_EXISTS', message: `${file} already exists; use --force to overwrite it` } })
  t.is(readFileSync(file, 'utf8'), 'keep me')
})
