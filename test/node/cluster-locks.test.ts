import { spawn } from 'node:child_process'
import test from 'ava'
import { decodeValue, encodeValue } from '../../src/node/api/client.js'
import { lockKey } from '../../src/store/state-machine.js'
import { ProcessCluster, sleep } from '../helpers/galaxy-process.js'

const fixture = new URL('fixtures/lock-holder.ts', import.meta.url).pathname

test('a paused lock holder loses its lock: fencing tokens increase and its guarded write is refused', async t => {
  t.timeout(180_000)
  const cluster = new ProcessCluster(t)
  await cluster.addSeeds(['s1', 's2', 's3'])

  // Holder A: its own process, talking to s2.
  const holder = spawn(process.execPath, ['--import', 'tsx', fixture, String(cluster.node('s2').apiPort), cluster.token, 'db', 'holder-a'], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.teardown(() => { holder.kill('SIGKILL') })
  const lines: Array<Record<string, unknown>> = []
  holder.stdout.on('data', (chunk: Buffer) => { for (const line of chunk.toString().trim().split('\n')) lines.push(JSON.parse(line) as Record<string, unknown>) })
  const waitLine = async (event: string): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      const found = lines.find(line => line.event === event)
      if (found !== undefined) return found
      await sleep(50)
    }
    throw new Error(`holder never printed ${event}`)
  }
  const tokenA = (await waitLine('acquired')).token as number

  // Client B (through s3) queues for the lock while A holds it and keeps its lease alive.
  const b = cluster.client('s3', 60_000)
  const leaseB = (await b.leaseGrant(10_000)).lease
  const keepB = setInterval(() => { void b.leaseKeepAlive(leaseB).catch(() => {}) }, 1000)
  t.teardown(() => { clearInterval(keepB) })
  const acquiringB = b.lockAcquire({ name: 'db', owner: 'client-b', lease: leaseB, waitMs: 30_000 })
  await sleep(3000)
  t.is(new TextDecoder().decode(decodeValue((await b.get(lockKey('db'))).kv?.value ?? '')), 'holder-a', 'A still holds the lock while it runs')

  // A pauses past its TTL: the leader expires its lease and hands the lock to B.
  holder.kill('SIGSTOP')
  const lockB = await acquiringB
  t.true(lockB.token > tokenA, `B's token ${lockB.token} is above A's ${tokenA}`)

  // B's guarded write goes through.
  const writeB = await b.txn({
    compares: [{ key: lockKey('db'), target: 'modRevision', op: '=', value: lockB.token }],
    success: [{ type: 'put', key: 'guarded/db', value: encodeValue(new TextEncoder().encode('client-b')) }],
    failure: []
  })
  t.true(writeB.succeeded)

  // A wakes up, still believing it holds the lock: its write with the old token is refused.
  holder.kill('SIGCONT')
  holder.stdin.write('write\n')
  t.false((await waitLine('wrote')).succeeded)
  t.is(new TextDecoder().decode(decodeValue((await b.get('guarded/db')).kv?.value ?? '')), 'client-b')

  // A third holder after B releases gets a larger token still.
  await b.lockRelease('db', 'client-b')
  const c = cluster.client('s1')
  const leaseC = (await c.leaseGrant(5000)).lease
  const lockC = await c.lockAcquire({ name: 'db', owner: 'client-c', lease: leaseC })
  t.true(lockC.token > lockB.token)
})
