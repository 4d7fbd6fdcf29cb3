import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { jobSpecExample } from '../../src/cli/commands/job-init.js'
import { unplacedLine } from '../../src/cli/job-format.js'
import { followRollout, type RolloutOptions } from '../../src/cli/job-rollout.js'
import type { JobPodBody, JobStatusBody, UnplacedBody } from '../../src/node/api/job-wire.js'
import type { JobId } from '../../src/lib/ids.js'
import type { JobRecord } from '../../src/roles/job/job-record.js'
import { parseJobSpec, type JobSpec } from '../../src/roles/job/job-spec.js'
import type { PodRecord } from '../../src/roles/job/pod-record.js'
import { freePort } from '../helpers/free-port.js'
import { tempDir } from '../helpers/temp-dir.js'
import { runGalaxy } from './run.js'

// The job, pod and naming commands: what they refuse before any request, how `job run` follows a
// rollout (with a fake clock), and what they send to a stand-in node. The end-to-end runs
// against a real cluster are elsewhere.

function parsed (text: string): JobSpec {
  const result = parseJobSpec(text)
  if (!result.ok) throw new Error(result.error.join('; '))
  return result.value
}

test('job init prints examples/web.yaml, a spec that parses: 3 pods of an HTTP server with a health check and a service', async t => {
  const run = await runGalaxy(['job', 'init'])
  t.is(run.exitCode, 0)
  t.is(run.stdout, jobSpecExample)
  t.is(readFileSync(join(import.meta.dirname, '../../examples/web.yaml'), 'utf8'), jobSpecExample)
  const spec = parsed(run.stdout)
  t.like(spec, { name: 'web', type: 'service', replica: 3, stopTimeout: 10_000, deploy: { step: 1, interval: 5000 } })
  const [task] = spec.pod.tasks
  t.like(task, { cpu: 100, memory: 64 * 1024 * 1024, ports: [{ name: 'http', port: 'dynamic' }], health: { port: 'http' } })
  t.regex(task?.start ?? '', /python3 .*-m http\.server "\$GALAXY_PORT_HTTP" --bind 127\.0\.0\.1/)
  t.deepEqual(spec.pod.services, [{ name: 'http', port: 'http' }])
  const json = await runGalaxy(['job', 'init', '--json'])
  t.deepEqual(JSON.parse(json.stdout), { spec: jobSpecExample })
})

/** An address where no node listens: a command that sent a request would fail with ERR_UNREACHABLE, exit 1. */
async function nowhere (): Promise<string> {
  return `127.0.0.1:${await freePort()}`
}

test('bad numbers and names are one-line usage errors, exit 2, before any request', async t => {
  const addr = await nowhere()
  for (const argv of [
    ['job', 'scale', 'web', 'three'], ['job', 'scale', 'web', '-1'], ['job', 'scale', 'web', '1.5'],
    ['job', 'continue', 'web', '--breakpoint', 'x'], ['job', 'run', 'web.yaml', '--step', '0'],
    ['job', 'run', 'web.yaml', '--timeout', 'soon'], ['job', 'update', 'web', 'web.yaml', '--breakpoint', '-2'],
    ['pod', 'logs', 'web.0', '--tail', '1k'], ['naming', 'resolve', 'web/http/x'], ['naming', 'resolve', '/http'],
    ['job', 'status', ''], ['job', 'scale', 'web']
  ]) {
    const run = await runGalaxy([...argv, '--addr', addr])
    t.is(run.exitCode, 2, argv.join(' '))
    t.regex(run.stderr, /^galaxy: [^\n]+\n$/, argv.join(' '))
    t.is(run.stdout, '')
  }
  const scale = await runGalaxy(['job', 'scale', 'web', 'three', '--addr', addr])
  t.is(scale.stderr, 'galaxy: N: "three" is not a whole number of at least 0\n')
})

test('a spec file that cannot be read is one line, exit 1, and nothing is sent', async t => {
  const addr = await nowhere()
  const dir = tempDir(t)
  const missing = join(dir, 'missing.yaml')
  const run = await runGalaxy(['job', 'run', missing, '--addr', addr])
  t.is(run.exitCode, 1)
  t.is(run.stderr, `galaxy: cannot read job spec ${missing}: no such file\n`)
  const json = await runGalaxy(['job', 'update', 'web', dir, '--json', '--addr', addr])
  t.is(json.exitCode, 1)
  t.deepEqual(JSON.parse(json.stderr), { error: { code: 'ERR_SPEC_FILE', message: `cannot read job spec ${dir}: not a file` } })
})

test('unplaced pods are described by how many nodes each filter excluded, most first', t => {
  t.is(unplacedLine(unplaced(2, { pool: 1, cpu: 3 })), '2 pods cannot be placed: cpu excluded 3 nodes, pool excluded 1 node')
  t.is(unplacedLine(unplaced(1, { memory: 1, cpu: 1, ports: 0 })), '1 pod cannot be placed: cpu excluded 1 node, memory excluded 1 node')
  t.is(unplacedLine(unplaced(3, {})), '3 pods cannot be placed: no node was there to take them')
})

// ---- fixtures ----

const podVersion = 'p0d5e1a2b3c4'

function unplaced (pods: number, excluded: UnplacedBody['excluded']): UnplacedBody {
  return { pods, excluded, atMs: 1_700_000_000_000 }
}

function jobRecord (changes: Partial<JobRecord> = {}): JobRecord {
  const spec = parsed(jobSpecExample)
  const version = { version: 'v1a2b3c4d5e6', podVersion, dataVersion: '', spec, submittedAtMs: 1_700_000_000_000 }
  return {
    name: 'web' as JobId, state: 'pending', current: version, previous: null, replica: 3, step: 1, intervalMs: 5000, breakpoint: null,
    removing: false, createdAtMs: 1_700_000_000_000, updatedAtMs: 1_700_000_000_000, history: [], ...changes
  }
}

/** Pod `web.<index>`; `status` null before its AppMaster hears from it. */
function pod (index: number, status: Partial<PodRecord> | null = {}): JobPodBody {
  const name = `web.${index}`
  const record: PodRecord | null = status === null
    ? null
    : {
        pod: name, job: 'web' as JobId, container: `c${index}`, node: 'n1', host: '127.0.0.1', version: podVersion, dataVersion: '',
        phase: 'running', healthy: true, restarts: 0, message: '', ports: { http: 20000 + index }, services: [], updatedAtMs: 0, ...status
      }
  return { pod: name, container: `c${index}`, node: 'n1', nodeName: 'node-1', status: record }
}

function jobStatus (pods: JobPodBody[], changes: { job?: Partial<JobRecord>, unplaced?: UnplacedBody | null } = {}): JobStatusBody {
  return { job: jobRecord({ state: 'running', ...changes.job }), pods, unplaced: changes.unplaced ?? null, appMaster: 'n1' }
}

/**
 * Follows a scripted rollout on a fake clock: each poll answers the next status (the last one
 * repeating), each wait moves the clock. Returns the outcome, the lines reported and the polls made.
 */
async function follow (statuses: JobStatusBody[], options: Partial<RolloutOptions> = {}): Promise<{ type: string, lines: string[], polls: number, atMs: number }> {
  let nowMs = 0
  let polls = 0
  const lines: string[] = []
  const outcome = await followRollout(async () => statuses[Math.min(polls++, statuses.length - 1)] as JobStatusBody, line => lines.push(line), {
    timeoutMs: 60_000, pollIntervalMs: 500, stuckMs: 3000, nowMs: () => nowMs, wait: async ms => { nowMs += ms }, ...options
  })
  return { type: outcome.type, lines, polls, atMs: nowMs }
}

test('job run reports a line each time the counts change and is done when every pod serves the current version', async t => {
  const result = await follow([
    jobStatus([], { job: { state: 'pending' } }),
    jobStatus([pod(0, null), pod(1, null), pod(2, null)]),
    jobStatus([pod(0, null), pod(1, null), pod(2, null)]),
    jobStatus([pod(0, { healthy: false }), pod(1), pod(2, { phase: 'starting', healthy: false })]),
    jobStatus([pod(0), pod(1), pod(2)])
  ])
  t.is(result.type, 'done')
  t.deepEqual(result.lines, [
    'placed 0/3, running 0, healthy 0 (pending)',
    'placed 3/3, running 0, healthy 0 (running)',
    'placed 3/3, running 2, healthy 1 (running)',
    'placed 3/3, running 3, healthy 3 (running)'
  ])
  t.is(result.polls, 5)
})

test('pods of another version do not count, however healthy', async t => {
  const old = { version: 'o1d0000000000' }
  const result = await follow([
    jobStatus([pod(0, old), pod(1, old), pod(2, old)], { job: { state: 'updating' } }),
    jobStatus([pod(0), pod(1, old), pod(2, old)], { job: { state: 'updating' } }),
    jobStatus([pod(0), pod(1), pod(2, { ...old, dataVersion: 'd2' })], { job: { state: 'updating' } })
  ], { timeoutMs: 5000 })
  t.is(result.type, 'timeout')
  t.deepEqual(result.lines, ['placed 3/3, running 0, healthy 0 (updating)', 'placed 3/3, running 1, healthy 1 (updating)', 'placed 3/3, running 2, healthy 2 (updating)'])
  t.is(result.atMs, 5000)
})

test('pods that cannot be placed end the wait once nothing changed for the stuck time', async t => {
  const stuck = jobStatus([pod(0)], { unplaced: unplaced(2, { cpu: 3 }) })
  const result = await follow([jobStatus([], { unplaced: unplaced(3, { cpu: 3 }) }), stuck])
  t.is(result.type, 'unplaceable')
  t.deepEqual(result.lines, ['placed 0/3, running 0, healthy 0 (running)', 'placed 1/3, running 1, healthy 1 (running)'])
  // Changed at the second poll (500 ms), stuck from then on for 3 s.
  t.is(result.atMs, 3500)
})

test('a paused update and a stopped job end the wait; a batch job is done when its pods finish', async t => {
  t.is((await follow([jobStatus([pod(0), pod(1, { version: 'old' })], { job: { state: 'paused' } })])).type, 'paused')
  t.is((await follow([jobStatus([pod(0)], { job: { state: 'destroying' } })])).type, 'stopped')
  const batch = jobRecord().current
  const finished = await follow([jobStatus([pod(0, { phase: 'finished' })], { job: { replica: 1, current: { ...batch, spec: { ...batch.spec, type: 'batch' } } } })])
  t.is(finished.type, 'done')
})

// ---- against a stand-in node ----

/** A node answering `routes` (`'GET /v1/jobs/web'`) in turn, the last answer repeating; records each request. */
async function standIn (t: ExecutionContext, routes: Record<string, unknown[]>): Promise<{ addr: string, requests: Array<{ route: string, query: string, body: string }> }> {
  const requests: Array<{ route: string, query: string, body: string }> = []
  const calls = new Map<string, number>()
  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    incoming.on('end', () => {
      const [path = '', query = ''] = (incoming.url ?? '').split('?')
      const route = `${incoming.method ?? ''} ${path}`
      requests.push({ route, query, body: Buffer.concat(chunks).toString() })
      const call = calls.get(route) ?? 0
      calls.set(route, call + 1)
      const answers = routes[route]
      const answer = answers?.[Math.min(call, answers.length - 1)]
      if (typeof answer === 'string') response.writeHead(200, { 'content-type': 'text/plain' }).end(answer)
      else if (answer === undefined) response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'ERR_NOT_FOUND', message: `no route ${route}` } }))
      else response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer))
    })
  })
  await new Promise<void>(resolve => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
  return { addr: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

test('job run sends the file with its overrides, follows the job and exits 0 once it is up', async t => {
  const job = jobRecord()
  const node = await standIn(t, {
    'POST /v1/jobs': [{ job, created: true, changed: true }],
    'GET /v1/jobs/web': [jobStatus([pod(0, null)], { job: { state: 'pending' } }), jobStatus([pod(0), pod(1), pod(2)])]
  })
  const run = await runGalaxy(['job', 'run', join(import.meta.dirname, '../../examples/web.yaml'), '--step', '2', '--breakpoint', '1', '--addr', node.addr])
  t.is(run.stderr, '')
  t.is(run.exitCode, 0)
  t.deepEqual(run.stdout.trimEnd().split('\n'), [
    'job web submitted (state pending, version v1a2b3c4d5e6)',
    'placed 1/3, running 0, healthy 0 (pending)',
    'placed 3/3, running 3, healthy 3 (running)',
    'job web is up: 3 pods at version v1a2b3c4d5e6'
  ])
  t.deepEqual(JSON.parse(node.requests[0]?.body ?? ''), { spec: jobSpecExample, step: 2, breakpoint: 1 })
})

test('job run exits 2 and says why when pods cannot be placed; --json prints the final status, the error as JSON', async t => {
  const final = jobStatus([pod(0)], { unplaced: unplaced(2, { cpu: 3, pool: 1 }) })
  const node = await standIn(t, {
    'POST /v1/jobs': [{ job: jobRecord(), created: false, changed: true }],
    'GET /v1/jobs/web': [final]
  })
  // One run only: the command waits the real 3 s with nothing changing before it gives up.
  const json = await runGalaxy(['job', 'run', join(import.meta.dirname, '../../examples/web.yaml'), '--json', '--addr', node.addr])
  t.is(json.exitCode, 2)
  t.deepEqual(JSON.parse(json.stdout), final)
  t.deepEqual(JSON.parse(json.stderr), { error: { code: 'ERR_UNPLACEABLE', message: '2 pods cannot be placed: cpu excluded 3 nodes, pool excluded 1 node' } })
})

test('the other commands call their routes with encoded names and print their tables', async t => {
  const job = jobRecord({ state: 'paused', breakpoint: 1 })
  const operation = { job, created: false, changed: true }
  const node = await standIn(t, {
    'GET /v1/jobs': [{ jobs: [{ name: 'web', type: 'service', state: 'running', version: 'v1a2b3c4d5e6', replica: 3, placed: 3, serving: 2, updatedAtMs: Date.now() }] }],
    'GET /v1/jobs/web': [jobStatus([pod(1, { phase: 'failed', healthy: false, message: 'exit 1', restarts: 4 }), pod(0, { version: 'o1d' }), pod(2, null)], { unplaced: unplaced(1, { memory: 2 }) })],
    'GET /v1/jobs/web/history': [{ history: [{ atMs: Date.UTC(2024, 4, 1, 12, 0, 3), event: 'submit', version: 'v1a2b3c4d5e6', detail: '' }] }],
    'POST /v1/jobs/web/continue': [operation],
    'POST /v1/jobs/web/scale': [{ ...operation, job: { ...job, replica: 5 } }],
    'POST /v1/jobs/web/pause': [{ ...operation, changed: false }],
    'GET /v1/naming/web/http': [{ job: 'web', service: 'http', endpoints: [{ pod: 'web.0', node: 'n1', host: '127.0.0.1', port: 20000, ports: { http: 20000 }, version: podVersion }] }],
    'GET /v1/pods/web.0/logs': ['hello\n'],
    'POST /v1/pods/web%2F0/restart': [{ pod: 'web/0', container: 'c9' }]
  })
  const galaxy = async (...argv: string[]): Promise<string> => {
    const run = await runGalaxy([...argv, '--addr', node.addr])
    t.is(run.exitCode, 0, `${argv.join(' ')}: ${run.stderr}`)
    return run.stdout
  }
  const squeeze = (text: string): string[] => text.trimEnd().split('\n').map(line => line.trim().replace(/ {2,}/g, ' | '))
  const list = squeeze(await galaxy('job', 'list'))
  t.is(list[0], 'NAME | TYPE | STATE | VERSION | PODS | PLACED | UPDATED')
  t.regex(list[1] ?? '', /^web \| service \| running \| v1a2b3c4d5e6 \| 2\/3 \| 3 \| \d+s ago$/)
  const status = squeeze(await galaxy('job', 'status', 'web'))
  t.deepEqual(status.slice(0, -1), [
    'Name | web', 'Type | service', 'State | running', `Version | v1a2b3c4d5e6 (pods run ${podVersion})`, 'Replica | 3', 'Step | 1', 'Breakpoint | none', 'AppMaster | n1',
    '',
    'POD | NODE | STATE | VERSION | RESTARTS | HEALTH | ERROR',
    'web.0 | node-1 | running | o1d (old) | 0 | healthy | -',
    `web.1 | node-1 | failed | ${podVersion} | 4 | unhealthy | exit 1`,
    'web.2 | node-1 | placed | - | - | - | -',
    ''
  ])
  t.regex(status.at(-1) ?? '', /^1 pod cannot be placed: memory excluded 2 nodes \(.+ ago\)$/)
  t.deepEqual(squeeze(await galaxy('job', 'history', 'web')), ['TIME | EVENT | VERSION | DETAIL', '2024-05-01 12:00:03 | submit | v1a2b3c4d5e6 | -'])
  t.is(await galaxy('job', 'continue', 'web', '--breakpoint', '2'), 'job web continued (state paused, version v1a2b3c4d5e6)\n')
  t.is(await galaxy('job', 'scale', 'web', '5'), 'job web scaled to 5 (state paused, version v1a2b3c4d5e6)\n')
  t.is(await galaxy('job', 'pause', 'web'), 'job web unchanged (state paused, version v1a2b3c4d5e6)\n')
  t.deepEqual(squeeze(await galaxy('naming', 'resolve', 'web/http')), ['POD | HOST | PORT | VERSION', `web.0 | 127.0.0.1 | 20000 | ${podVersion}`])
  t.is(await galaxy('pod', 'logs', 'web.0', '--task', 'server', '--stderr', '--tail', '100'), 'hello\n')
  t.is(await galaxy('pod', 'restart', 'web/0'), 'pod web/0 restarting in container c9\n')
  const sent = (route: string): { query: string, body: string } | undefined => node.requests.find(request => request.route === route)
  t.is(sent('POST /v1/jobs/web/continue')?.body, '{"breakpoint":2}')
  t.is(sent('POST /v1/jobs/web/scale')?.body, '{"replica":5}')
  t.is(sent('POST /v1/jobs/web/pause')?.body, '{}')
  t.is(sent('GET /v1/pods/web.0/logs')?.query, 'task=server&stream=stderr&tail=100')
})
