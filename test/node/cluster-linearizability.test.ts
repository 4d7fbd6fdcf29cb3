import test from 'ava'
import { decodeValue, encodeValue, NodeUnreachableError } from '../../src/node/api/client.js'
import { SeededRng, randomInt } from '../../src/lib/rng.js'
import { ProcessCluster, sleep } from '../helpers/galaxy-process.js'
import { checkOperations, kvModel, type KvInput, type KvOutput, type Operation } from '../helpers/linearizability.js'

const keys = ['a', 'b', 'c', 'd']
const clients = 6
const workloadMs = 14_000

test('a concurrent put/get/cas history across a leader kill -9 and a paused follower is linearizable', async t => {
  t.timeout(240_000)
  const cluster = new ProcessCluster(t)
  await cluster.add({ name: 's1' })
  await cluster.add({ name: 's2', seed: true, join: ['s1'] })
  await cluster.add({ name: 's3', seed: true, join: ['s1'] })
  await cluster.waitStatus('s1', status => status.members.filter(member => member.suffrage === 'voter').length === 3)
  const names = ['s1', 's2', 's3']
  const history: Array<Operation<KvInput, KvOutput>> = []
  const start = performance.now()
  let unique = 0
  let stop = false

  const runClient = async (client: number): Promise<void> => {
    const rng = new SeededRng(client + 1)
    while (!stop) {
      const name = names[randomInt(rng, 0, names.length)] ?? 's1'
      const api = cluster.client(name, 3000)
      const key = keys[randomInt(rng, 0, keys.length)] ?? 'a'
      const roll = randomInt(rng, 0, 10)
      const value = `${client}-${++unique}`
      const input: KvInput = roll < 4 ? { op: 'get', key } : roll < 7 ? { op: 'put', key, value } : { op: 'cas', key, expected: lastSeen.get(key) ?? null, value }
      const call = performance.now()
      try {
        let output: KvOutput
        if (input.op === 'get') {
          const kv = (await api.get(key)).kv
          output = { ok: true, value: kv === null ? null : new TextDecoder().decode(decodeValue(kv.value)) }
          if (output.value !== null && output.value !== undefined) lastSeen.set(key, output.value)
        } else if (input.op === 'put') {
          await api.put(key, new TextEncoder().encode(value))
          output = { ok: true }
        } else {
          const compares = input.expected === null
            ? [{ key, target: 'version' as const, op: '=' as const, value: 0 }]
            : [{ key, target: 'value' as const, op: '=' as const, value: encodeValue(new TextEncoder().encode(input.expected)) }]
          const result = await api.txn({ compares, success: [{ type: 'put', key, value: encodeValue(new TextEncoder().encode(value)) }], failure: [] })
          output = { ok: result.succeeded }
        }
        history.push({ client, input, output, call, ret: performance.now() })
      } catch (error) {
        // A refused connection never reached the cluster: it did not happen. Any other failure of a
        // write leaves its outcome unknown; a failed read says nothing and is left out.
        if (!(error instanceof NodeUnreachableError) && input.op !== 'get') history.push({ client, input, output: { ok: false }, call, ret: Infinity })
        await sleep(20)
      }
    }
  }
  const lastSeen = new Map<string, string>()

  const faults = (async () => {
    await sleep(3000)
    const leader = await cluster.leaderName('s1')
    await cluster.node(leader).kill()
    await sleep(3000)
    await cluster.node(leader).start()
    await sleep(1500)
    // Pause a follower: it hears nothing and says nothing, then comes back with a stale view.
    const current = await cluster.leaderName(leader)
    const follower = names.find(name => name !== current) ?? 's1'
    cluster.node(follower).signal('SIGSTOP')
    await sleep(3000)
    cluster.node(follower).signal('SIGCONT')
  })()
  const workers = Array.from({ length: clients }, async (_, client) => { await runClient(client) })
  await sleep(workloadMs)
  stop = true
  await Promise.all([faults, ...workers])

  const known = history.filter(op => op.ret !== Infinity)
  t.log(`${history.length} operations (${history.length - known.length} with unknown outcome) in ${Math.round(performance.now() - start)} ms`)
  t.true(known.filter(op => op.input.op !== 'get').length > 50, 'enough writes succeeded to mean something')
  const result = checkOperations(kvModel, history, { timeoutMs: 60_000 })
  t.is(result.result, 'ok', JSON.stringify(result).slice(0, 2000))
})
