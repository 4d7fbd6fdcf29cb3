import { availableParallelism, tmpdir, totalmem } from 'node:os'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import test, { type ExecutionContext } from 'ava'
import type { ContainerId, JobId, NodeId, PodId } from '../../src/lib/ids.js'
import { silentLogger } from '../../src/lib/logger.js'
import { DecodeError } from '../../src/node/decode-error.js'
import { measureCapacity } from '../../src/node/gossip/capacity.js'
import { decodeNodeReport, encodeNodeReport, GossipService, gossipDefaults, type GossipServiceInit } from '../../src/node/gossip/gossip-service.js'
import type { Liveness, NodeCapacity, NodeReport } from '../../src/node/gossip/liveness.js'
import { createHost, type Host } from '../../src/node/net/host.js'
import { generateClusterKey, parseClusterKey } from '../../src/node/net/identity.js'
import { galaxy } from '../../src/proto/gen/gossip.js'
import type { AgentReport } from '../../src/roles/agent/agent-report.js'

const clusterKey = parseClusterKey(generateClusterKey(), 'test cluster key')
const startedMs = performance.now()

/** What node `a` of `startNode` reports for its agent; the others report none. */
const agentOfA: AgentReport = {
  isolation: 'full',
  isolationReasons: [],
  health: 'healthy',
  problems: [],
  reserved: { cpuMillicores: 500, memoryBytes: 2 ** 29, diskBytes: 2 ** 30 },
  allocated: { cpuMillicores: 250, memoryBytes: 2 ** 26, diskBytes: 2 ** 28 },
  usage: { cpuMillicores: 12, memoryBytes: 2 ** 24 },
  containers: [{
    id: 'c-1' as ContainerId, job: 'web' as JobId, pod: 'web-1' as PodId, state: 'running', version: 'v1', phase: 'running', message: '', cpuMillicores: 12, memoryBytes: 2 ** 24
  }]
}

interface TestNode {
  readonly name: string
  readonly host: Host
  readonly gossip: GossipService
  readonly capacity: NodeCapacity
}

type Timing = Pick<GossipServiceInit, 'intervalMs' | 'suspectAfterMs' | 'deadAfterMs'>

/** A host on 127.0.0.1 (a kernel-chosen port) running a gossip service; stopped when the test ends. */
async function startNode (t: ExecutionContext, name: string, capacity: NodeCapacity, timing: Timing = {}): Promise<TestNode> {
  const host = await createHost({ peerKey: await generateKeyPair('Ed25519'), clusterKey, listen: { host: '127.0.0.1', port: 0 } })
  const gossip = new GossipService({
    host,
    ...timing,
    logger: silentLogger,
    report: () => ({
      name,
      addresses: host.getMultiaddrs().map(address => address.toString()),
      api: '127.0.0.1:7070',
      roles: name === 'a' ? ['resman', 'agent'] : ['agent'],
      pool: 'default',
      labels: { name },
      seed: name === 'a',
      capacity,
      uptimeMs: Math.round(performance.now() - startedMs),
      ...(name === 'a' ? { agent: agentOfA } : {})
    })
  })
  t.teardown(async () => {
    gossip.stop()
    await host.stop()
  })
  gossip.start()
  return { name, host, gossip, capacity }
}

/** Dials every pair of nodes. */
async function connectAll (nodes: readonly TestNode[]): Promise<void> {
  for (const [i, a] of nodes.entries()) {
    for (const b of nodes.slice(i + 1)) {
      const address = b.host.getMultiaddrs()[0]
      if (address === undefined) throw new Error(`${b.name} listens nowhere`)
      await a.host.dial(address)
    }
  }
}

/** Polls `condition` every 25 ms until it holds; fails after `timeoutMs` saying what it waited for. */
async function waitFor (condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

const idOf = (node: TestNode): NodeId => node.gossip.id

function seesAllAlive (observer: TestNode, nodes: readonly TestNode[]): boolean {
  return nodes.every(node => observer.gossip.state(idOf(node)) === 'alive')
}

/** A report that is fine in every way except, perhaps, who it claims to come from. */
function handMadeReport (id: NodeId, name: string): NodeReport {
  return {
    id, name, addresses: [], api: '', roles: ['resman'], pool: 'default', labels: {}, seed: true,
    capacity: { cpuCores: 1, memoryBytes: 1, diskBytes: 1 }, uptimeMs: 1, sequence: Number.MAX_SAFE_INTEGER
  }
}

test('measureCapacity reports the CPUs, memory and size of the data dir filesystem', async t => {
  const capacity = await measureCapacity(tmpdir())
  t.is(capacity.cpuCores, availableParallelism())
  t.is(capacity.memoryBytes, totalmem())
  t.true(Number.isSafeInteger(capacity.diskBytes) && capacity.diskBytes > 0)
  await t.throwsAsync(measureCapacity(`${tmpdir()}/galaxy-no-such-dir-${process.pid}`))
})

test('a report goes through its encoding unchanged', t => {
  const report: NodeReport = {
    id: '12D3KooWExample' as NodeId,
    name: 'n1',
    addresses: ['/ip4/10.0.0.1/tcp/1645', '/ip6/::1/tcp/1645'],
    api: '127.0.0.1:1646',
    roles: ['agent', 'appmaster'],
    pool: 'edge',
    labels: { rack: 'r7', '': 'empty key', ['__proto__']: 'not the prototype' },
    seed: true,
    capacity: { cpuCores: 96, memoryBytes: 2 ** 40, diskBytes: Number.MAX_SAFE_INTEGER },
    uptimeMs: 123_456_789,
    sequence: 1_712_345_678_901
  }
  t.deepEqual(decodeNodeReport(encodeNodeReport(report)), report)
})

test('bytes that are not a report throw DecodeError', t => {
  const capacity = { cpuCores: 1, memoryBytes: 1, diskBytes: 1 }
  const cases: Array<[string, Uint8Array]> = [
    ['garbage', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ['truncated', encodeNodeReport(handMadeReport('12D3KooWExample' as NodeId, 'x')).subarray(0, 20)],
    ['no id', galaxy.NodeReport.encode({ name: 'x', capacity }).finish()],
    ['no capacity', galaxy.NodeReport.encode({ id: '12D3KooWExample' }).finish()],
    ['sequence past 2^53', galaxy.NodeReport.encode({ id: '12D3KooWExample', capacity, sequence: 2 ** 53 }).finish()],
    ['too large', galaxy.NodeReport.encode({ id: '12D3KooWExample', capacity, name: 'x'.repeat(70_000) }).finish()]
  ]
  for (const [what, bytes] of cases) t.throws(() => decodeNodeReport(bytes), { instanceOf: DecodeError }, what)
})

test.serial('three connected nodes see each other alive, with names, roles and capacity', async t => {
  const measured = await measureCapacity(tmpdir())
  const nodes = [
    await startNode(t, 'a', measured),
    await startNode(t, 'b', { cpuCores: 2, memoryBytes: 4 * 2 ** 30, diskBytes: 50 * 2 ** 30 }),
    await startNode(t, 'c', { cpuCores: 64, memoryBytes: 2 ** 40, diskBytes: 2 ** 44 })
  ]
  t.is(nodes[0]?.gossip.topic, gossipDefaults.topic)
  await connectAll(nodes)
  await waitFor(() => nodes.every(observer => seesAllAlive(observer, nodes)), 'every node to see all three alive', 8000)
  for (const observer of nodes) {
    const entries = observer.gossip.list()
    t.deepEqual(entries.map(entry => entry.report.id), nodes.map(idOf).sort())
    for (const node of nodes) {
      const entry = entries.find(candidate => candidate.report.id === idOf(node))
      t.is(entry?.state, 'alive')
      t.is(entry?.report.name, node.name)
      t.deepEqual(entry?.report.roles, node.name === 'a' ? ['resman', 'agent'] : ['agent'])
      t.is(entry?.report.seed, node.name === 'a')
      t.deepEqual(entry?.report.labels, { name: node.name })
      t.deepEqual(entry?.report.capacity, node.capacity)
      t.deepEqual(entry?.report.agent, node.name === 'a' ? agentOfA : undefined)
      t.deepEqual(entry?.report.addresses, node.host.getMultiaddrs().map(address => address.toString()))
    }
    t.true(observer.gossip.counters.published >= 1)
    t.true(observer.gossip.counters.received >= 2)
    t.is(observer.gossip.counters.malformed, 0)
    t.is(observer.gossip.counters.forged, 0)
  }
})

test.serial('when a node stops, the others mark it suspect, then dead', async t => {
  const timing = { intervalMs: 300, suspectAfterMs: 1500, deadAfterMs: 3000 }
  const capacity = { cpuCores: 1, memoryBytes: 1, diskBytes: 1 }
  const nodes = [await startNode(t, 'a', capacity, timing), await startNode(t, 'b', capacity, timing), await startNode(t, 'c', capacity, timing)]
  const [a, b, c] = nodes as [TestNode, TestNode, TestNode]
  await connectAll(nodes)
  await waitFor(() => nodes.every(observer => seesAllAlive(observer, nodes)), 'every node to see all three alive', 8000)

  c.gossip.stop()
  await c.host.stop()
  const stoppedMs = performance.now()
  // What each survivor says of c, each time it changes.
  const seen = new Map<TestNode, Liveness[]>([[a, []], [b, []]])
  await waitFor(() => {
    for (const [observer, states] of seen) {
      const state = observer.gossip.state(idOf(c))
      if (state !== undefined && states.at(-1) !== state) states.push(state)
      t.is(observer.gossip.state(idOf(a)), 'alive')
      t.is(observer.gossip.state(idOf(b)), 'alive')
    }
    return [...seen.values()].every(states => states.at(-1) === 'dead')
  }, 'a and b to mark c dead', 8000)
  const elapsedMs = performance.now() - stoppedMs
  t.deepEqual(seen.get(a), ['alive', 'suspect', 'dead'])
  t.deepEqual(seen.get(b), ['alive', 'suspect', 'dead'])
  t.true(elapsedMs >= 3000 - timing.intervalMs, `dead after ${Math.round(elapsedMs)} ms`)
  t.is(a.gossip.list().length, 3, 'a dead node stays listed')
})

test.serial('a report naming another node is counted as forged and not kept', async t => {
  const capacity = { cpuCores: 1, memoryBytes: 1, diskBytes: 1 }
  const nodes = [await startNode(t, 'a', capacity), await startNode(t, 'b', capacity)]
  const [a, b] = nodes as [TestNode, TestNode]
  await connectAll(nodes)
  await waitFor(() => nodes.every(observer => seesAllAlive(observer, nodes)), 'a and b to see each other', 8000)
  const absent = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString() as NodeId

  // Published (so signed) by a, but claiming to be b and a node that does not run.
  await a.host.services.pubsub.publish(gossipDefaults.topic, encodeNodeReport(handMadeReport(idOf(b), 'forged')))
  await a.host.services.pubsub.publish(gossipDefaults.topic, encodeNodeReport(handMadeReport(absent, 'forged')))
  await waitFor(() => b.gossip.counters.forged >= 2, 'b to count two forged reports', 5000)

  t.is(b.gossip.counters.forged, 2)
  t.is(b.gossip.counters.malformed, 0)
  t.is(b.gossip.state(absent), undefined)
  t.is(b.gossip.get(idOf(b))?.report.name, 'b')
  t.deepEqual(b.gossip.list().map(entry => entry.report.name).sort(), ['a', 'b'])
  t.is(b.gossip.get(idOf(a))?.report.name, 'a')
})

test.serial('garbage on the topic is counted as malformed and the node keeps working', async t => {
  const capacity = { cpuCores: 1, memoryBytes: 1, diskBytes: 1 }
  const timing = { intervalMs: 300 }
  const nodes = [await startNode(t, 'a', capacity, timing), await startNode(t, 'b', capacity, timing)]
  const [a, b] = nodes as [TestNode, TestNode]
  await connectAll(nodes)
  await waitFor(() => nodes.every(observer => seesAllAlive(observer, nodes)), 'a and b to see each other', 8000)

  const pubsub = a.host.services.pubsub
  await pubsub.publish(gossipDefaults.topic, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
  await pubsub.publish(gossipDefaults.topic, new TextEncoder().encode('hello, this is not protobuf'))
  await pubsub.publish(gossipDefaults.topic, galaxy.NodeReport.encode({ id: idOf(a) }).finish()) // no capacity
  await waitFor(() => b.gossip.counters.malformed >= 3, 'b to count three malformed messages', 5000)
  t.is(b.gossip.counters.malformed, 3)
  t.is(b.gossip.counters.forged, 0)

  // b still takes a's next reports.
  const sequence = b.gossip.get(idOf(a))?.report.sequence ?? 0
  await waitFor(() => (b.gossip.get(idOf(a))?.report.sequence ?? 0) > sequence, 'a newer report of a at b', 5000)
  t.is(b.gossip.state(idOf(a)), 'alive')
  t.is(a.gossip.state(idOf(b)), 'alive')
})
