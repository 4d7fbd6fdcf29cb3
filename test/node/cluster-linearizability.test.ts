import { decodeValue, encodeValue, NodeUnreachableError } from '../../src/node/api/client.js'
import { SeededRng, randomInt } from '../../src/lib/rng.js'
import { ProcessCluster, sleep } from '../helpers/galaxy-process.js'
import { canUseNetns, IsolatedNetwork } from '../helpers/netns.js'
import { testIf } from '../helpers/host.js'
import { checkOperations, kvModel, type KvInput, type KvOutput, type Operation } from '../helpers/linearizability.js'

const keys = ['a', 'b', 'c', 'd']
const clients = 6
const workloadMs = 18_000

testIf(canUseNetns, 'needs root and ip netns for a real partition')('a concurrent put/get/cas history across a leader kill -9, a partitioned follower and a paused one is linearizable', async t => {
  t.timeout(240_000)
  // s3 runs in its own network namespace, so that it can be cut off for real; s1 and s2 listen on
  // this side's address of the veth pair, which s3 reaches over the pair (and they reach locally).
  // Each step is logged with its time, so that a run that overruns shows where.
  const start = performance.now()
  const step = (what: string): void => { t.log(`${Math.round(performance.now() - start)} ms: ${what}`) }
  const net = new IsolatedNetwork(t)
  const cluster = new ProcessCluster(t)
  await cluster.add({ name: 's1', listenHost: net.hostAddress })
  await cluster.add({ name: 's2', seed: true, join: ['s1'], listenHost: net.hostAddress })
  await cluster.add({ name: 's3', seed: true, join: ['s1'], listenHost: net.innerAddress, apiHost: net.innerAddress, netns: net.namespace })
  await cluster.waitStatus('s1', status => status.members.filter(member => member.suffrage === 'voter').length === 3)
  step('three voters')
  const names = ['s1', 's2', 's3']
  const history: Array<Operation<KvInput, KvOutput>> = []
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
        // A connection never made never reached the cluster: it did not happen. Any other failure
        // of a write (a timeout, a connection lost with the node) leaves its outcome unknown; a
        // failed read says nothing and is left out.
        if (!(error instanceof NodeUnreachableError) && input.op !== 'get') history.push({ client, input, output: { ok: false }, call, ret: Infinity })
        await sleep(20)
      }
    }
  }
  const lastSeen = new Map<string, string>()

  const faults = (async () => {
    await sleep(3000)
    const leader = await cluster.leaderName('s1')
    step(`kill -9 the leader ${leader}`)
    await cluster.node(leader).kill()
    await sleep(3000)
    await cluster.node(leader).start()
    step(`${leader} restarted`)
    await sleep(1500)
    // Partition s3 as a follower: it keeps running, cut off both ways, then heals.
    if (await cluster.leaderName('s1') === 's3') await cluster.client('s3').transferLeader()
    await cluster.waitStatus('s1', status => status.leader !== null && status.leader.name !== 's3')
    step('cut s3 off')
    net.cut()
    const cutAt = Date.now()
    // The majority side goes on; s3 cannot even be asked.
    await cluster.client('s1').put('during-cut', new TextEncoder().encode('yes'))
    step('the majority took a write')
    await t.throwsAsync(cluster.client('s3', 1000).get('during-cut'))
    step('s3 could not be asked')
    await sleep(Math.max(0, 3000 - (Date.now() - cutAt)))
    net.heal()
    step('healed')
    await sleep(1000)
    t.truthy((await cluster.client('s3').get('during-cut')).kv, 's3 caught up after the partition healed')
    // Pause a follower: it hears nothing and says nothing, then comes back with a stale view.
    const current = await cluster.leaderName('s1')
    const follower = names.find(name => name !== current) ?? 's1'
    step(`pause ${follower}`)
    cluster.node(follower).signal('SIGSTOP')
    await sleep(2500)
    cluster.node(follower).signal('SIGCONT')
    step(`resumed ${follower}`)
  })()
  const workers = Array.from({ length: clients }, async (_, client) => { await runClient(client) })
  await sleep(workloadMs)
  stop = true
  await Promise.all([faults, ...workers])

  const known = history.filter(op => op.ret !== Infinity)
  step(`${history.length} operations (${history.length - known.length} with unknown outcome)`)
  t.true(known.filter(op => op.input.op !== 'get').length > 50, 'enough writes succeeded to mean something')
  step('checking the history')
  const result = checkOperations(kvModel, history, { timeoutMs: 60_000 })
  t.is(result.result, 'ok', JSON.stringify(result).slice(0, 2000))
})
