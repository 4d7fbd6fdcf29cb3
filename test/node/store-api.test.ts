import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { silentLogger } from '../../src/lib/logger.js'
import { ApiClient, ApiError, decodeValue, encodeValue } from '../../src/node/api/client.js'
import type { WatchLine } from '../../src/node/api/wire.js'
import { ClusterNode } from '../../src/node/cluster-node.js'
import { runGalaxy } from '../cli/run.js'
import { freePort } from '../helpers/free-port.js'
import { tempDir } from '../helpers/temp-dir.js'

const text = (value: string): Uint8Array => new TextEncoder().encode(value)
const read = (value: string | undefined): string => new TextDecoder().decode(decodeValue(value ?? ''))

/** One real node in this process (real level, sockets and HTTP), with a client that has its token. */
async function startNode (t: import('ava').ExecutionContext): Promise<{ node: ClusterNode, api: ApiClient, env: Record<string, string> }> {
  const dataDir = tempDir(t)
  const node = await ClusterNode.start({
    dataDir, listen: { host: '127.0.0.1', port: await freePort() }, api: { host: '127.0.0.1', port: await freePort() },
    name: 'solo', seed: true, join: [], roles: ['agent'], pool: 'default', labels: { rack: 'r1' }, logger: silentLogger
  })
  t.teardown(async () => { await node.stop() })
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim()
  const api = new ApiClient({ endpoint: node.api, token })
  const deadline = Date.now() + 15_000
  while ((await api.status()).leader === null) {
    if (Date.now() > deadline) throw new Error('no leader')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return { node, api, env: { GALAXY_TOKEN: token, GALAXY_ADDR: `127.0.0.1:${node.api.port}` } }
}

test('keys: put, get, list by prefix in pages, transactions with compares, delete by prefix', async t => {
  const { api } = await startNode(t)
  for (let i = 0; i < 25; i++) await api.put(`app/${String(i).padStart(2, '0')}`, text(`v${i}`))
  await api.put('other', text('o'))
  const keys: string[] = []
  let after: string | undefined
  for (let pages = 0; pages < 10; pages++) {
    const page = await api.list('app/', { after, limit: 10 })
    keys.push(...page.items.map(item => item.key))
    if (!page.more) break
    after = page.items[page.items.length - 1]?.key
  }
  t.is(keys.length, 25)
  t.deepEqual(keys, [...keys].sort())
  const current = (await api.get('app/00')).kv
  t.is(current?.version, 1)
  const cas = await api.txn({
    compares: [{ key: 'app/00', target: 'modRevision', op: '=', value: current?.modRevision ?? 0 }],
    success: [{ type: 'put', key: 'app/00', value: encodeValue(text('swapped')) }],
    failure: [{ type: 'get', key: 'app/00' }]
  })
  t.true(cas.succeeded)
  const stale = await api.txn({
    compares: [{ key: 'app/00', target: 'modRevision', op: '=', value: current?.modRevision ?? 0 }],
    success: [{ type: 'put', key: 'app/00', value: encodeValue(text('lost')) }],
    failure: [{ type: 'get', key: 'app/00' }]
  })
  t.false(stale.succeeded)
  t.is(read(stale.gets[0]?.value), 'swapped')
  await api.delete('app/', { prefix: true })
  t.is((await api.list('app/')).items.length, 0)
  t.is(read((await api.get('other')).kv?.value), 'o')
  const refused = await t.throwsAsync(api.put('\u0000lock/x', text('no')))
  t.true(refused instanceof ApiError)
})

test('watch: events in order from a revision, resumable after a disconnect, compaction reported', async t => {
  const { api } = await startNode(t)
  const first = await api.put('w/a', text('1'))
  await api.put('w/b', text('2'))
  await api.put('elsewhere', text('x'))
  await api.delete('w/a')
  const collect = async (revision: number, count: number): Promise<WatchLine[]> => {
    const controller = new AbortController()
    const lines: WatchLine[] = []
    for await (const line of api.watch('w/', revision, { signal: controller.signal })) {
      if (line.type === 'progress') continue
      lines.push(line)
      if (lines.length >= count || line.type === 'compacted') break
    }
    controller.abort()
    return lines
  }
  const seen = await collect(first.revision, 3)
  t.deepEqual(seen.map(line => 'key' in line ? `${line.type} ${line.key}` : line.type), ['put w/a', 'put w/b', 'delete w/a'])
  // Resume after the second event, as a client does after a disconnect, and see a new write arrive.
  const resumeFrom = (seen[1] as { revision: number }).revision + 1
  const resumed = collect(resumeFrom, 2)
  await new Promise(resolve => setTimeout(resolve, 200))
  await api.put('w/c', text('3'))
  t.deepEqual((await resumed).map(line => 'key' in line ? `${line.type} ${line.key}` : line.type), ['delete w/a', 'put w/c'])
  // After compaction a watch from before it is told so.
  const { revision } = await api.compact((await api.get('w/c')).revision)
  const compacted = await collect(first.revision, 1)
  t.deepEqual(compacted, [{ type: 'compacted', compactRevision: revision }])
})

test('leases: a key bound to a lease lives while kept alive and goes when it expires or is revoked', async t => {
  const { api } = await startNode(t)
  const { lease } = await api.leaseGrant(2000)
  await api.put('session/a', text('here'), { lease })
  // Kept alive every 400 ms for 2.8 s: well past its TTL, with room for a slow request on a busy machine.
  for (let i = 0; i < 7; i++) {
    await new Promise(resolve => setTimeout(resolve, 400))
    await api.leaseKeepAlive(lease)
  }
  t.truthy((await api.get('session/a')).kv, 'kept alive past its TTL')
  const deadline = Date.now() + 10_000
  while ((await api.get('session/a')).kv !== null) {
    if (Date.now() > deadline) t.fail('the lease never expired')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  t.pass('expired once keep-alives stopped')
  const err = await t.throwsAsync(api.leaseKeepAlive(lease))
  t.is((err as ApiError).code, 'ERR_LEASE_NOT_FOUND')
  const second = await api.leaseGrant(60_000)
  await api.put('session/b', text('b'), { lease: second.lease })
  await api.leaseRevoke(second.lease)
  t.is((await api.get('session/b')).kv, null)
})

test('the CLI against a real node: status, node list, lock acquire and release, snapshot save and restore', async t => {
  const { env } = await startNode(t)
  const status = await runGalaxy(['status', '--json'], env)
  t.is(status.exitCode, 0, status.stderr)
  t.like(JSON.parse(status.stdout), { health: 'healthy', node: { name: 'solo', seed: true } })
  const nodes = await runGalaxy(['node', 'list', '--json'], env)
  t.like((JSON.parse(nodes.stdout) as { nodes: unknown[] }).nodes[0], { name: 'solo', roles: ['agent'], labels: { rack: 'r1' }, raftRole: 'leader', state: 'alive' })

  const acquired = await runGalaxy(['lock', 'acquire', 'deploy', '--ttl', '10s', '--owner', 'me', '--json'], env)
  t.is(acquired.exitCode, 0, acquired.stderr)
  const lock = JSON.parse(acquired.stdout) as { token: number }
  const busy = await runGalaxy(['lock', 'acquire', 'deploy', '--ttl', '10s', '--owner', 'you', '--wait', '500ms'], env)
  t.is(busy.exitCode, 1)
  t.regex(busy.stderr, /^galaxy: lock deploy is held by me/)
  t.is((await runGalaxy(['lock', 'release', 'deploy', '--owner', 'me'], env)).exitCode, 0)
  const next = JSON.parse((await runGalaxy(['lock', 'acquire', 'deploy', '--ttl', '10s', '--owner', 'you', '--json'], env)).stdout) as { token: number }
  t.true(next.token > lock.token)

  t.is((await runGalaxy(['kv', 'put', 'keep', 'me'], env)).exitCode, 0)
  const file = join(tempDir(t), 'backup.snap')
  const saved = await runGalaxy(['operator', 'snapshot', 'save', file], env)
  t.is(saved.exitCode, 0, saved.stderr)
  t.is((await runGalaxy(['kv', 'put', 'keep', 'changed'], env)).exitCode, 0)
  t.is((await runGalaxy(['kv', 'put', 'later', 'x'], env)).exitCode, 0)
  const restored = await runGalaxy(['operator', 'snapshot', 'restore', file], env)
  t.is(restored.exitCode, 0, restored.stderr)
  t.is((await runGalaxy(['kv', 'get', 'keep'], env)).stdout, 'me')
  t.is((await runGalaxy(['kv', 'get', 'later'], env)).exitCode, 1)
  const garbage = join(tempDir(t), 'garbage.snap')
  await import('node:fs').then(fs => { fs.writeFileSync(garbage, 'not a snapshot') })
  const refused = await runGalaxy(['operator', 'snapshot', 'restore', garbage], env)
  t.is(refused.exitCode, 1)
  t.is((await runGalaxy(['kv', 'get', 'keep'], env)).stdout, 'me', 'a refused restore changes nothing')
})

test('a request too large for one log entry is refused and changes nothing; a garbage registry record is skipped', async t => {
  const { node, api } = await startNode(t)
  const big = encodeValue(new Uint8Array(1024 * 1024 - 16))
  const tooLarge = await t.throwsAsync(api.txn({ compares: [], success: Array.from({ length: 8 }, (_, i) => ({ type: 'put' as const, key: `big/${i}`, value: big })), failure: [] }))
  t.is((tooLarge as ApiError).code, 'ERR_LIMIT')
  t.is((await api.list('big/')).items.length, 0)
  await api.put('small', text('fine'))

  // The node registry is an ordinary prefix: what is stored there may be anything, and is skipped.
  await api.put(`galaxy/nodes/${node.id}`, text('not json'))
  t.deepEqual((await api.nodes()).nodes, [])
  t.is((await api.status()).health, 'healthy')
  t.is(read((await api.get('small')).kv?.value), 'fine')
})
