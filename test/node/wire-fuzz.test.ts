import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SeededRng, randomInt } from '../../src/lib/rng.js'
import { silentLogger } from '../../src/lib/logger.js'
import { apiProtocol } from '../../src/node/api/forward.js'
import { ClusterNode } from '../../src/node/cluster-node.js'
import { createHost } from '../../src/node/net/host.js'
import { parseClusterKey } from '../../src/node/net/identity.js'
import { raftCodec } from '../../src/node/raft-codec.js'
import { raftProtocol, raftTransportLimits } from '../../src/node/raft-transport.js'
import { freePort } from '../helpers/free-port.js'
import { tempDir } from '../helpers/temp-dir.js'
import type { NodeId } from '../../src/lib/ids.js'

test('malformed, oversized and forged frames on the raft and api protocols are dropped and counted, never a crash', async t => {
  t.timeout(120_000)
  const dataDir = tempDir(t)
  const node = await ClusterNode.start({
    dataDir, listen: { host: '127.0.0.1', port: await freePort() }, api: { host: '127.0.0.1', port: await freePort() },
    name: 'fuzzed', seed: true, join: [], roles: [], pool: 'default', labels: {}, logger: silentLogger
  })
  t.teardown(async () => { await node.stop() })
  const key = parseClusterKey(readFileSync(join(dataDir, 'cluster.key'), 'utf8'), 'cluster.key')
  const attacker = await createHost({ peerKey: await generateKeyPair('Ed25519'), clusterKey: key, listen: { host: '127.0.0.1', port: await freePort() } })
  t.teardown(async () => { await attacker.stop() })
  const target = node.host.getMultiaddrs()[0] ?? multiaddr('/ip4/127.0.0.1/tcp/1')

  const rng = new SeededRng(7)
  const randomBytes = (length: number): Uint8Array => Uint8Array.from({ length }, () => randomInt(rng, 0, 256))
  const valid = raftCodec.encodeMessage({ type: 'heartbeat', from: attacker.peerId.toString() as NodeId, to: node.id, term: 1, commit: 0, context: 0 })

  // Random frames, truncated and bit-flipped real messages, and a message claiming another sender.
  const stream = lpStream(await attacker.dialProtocol(target, raftProtocol))
  for (let i = 0; i < 2000; i++) {
    const mode = i % 3
    if (mode === 0) await stream.write(randomBytes(randomInt(rng, 0, 200)))
    else if (mode === 1) await stream.write(valid.subarray(0, randomInt(rng, 0, valid.byteLength)))
    else {
      const flipped = Uint8Array.from(valid)
      const at = randomInt(rng, 0, flipped.byteLength)
      flipped[at] = (flipped[at] ?? 0) ^ (1 << randomInt(rng, 0, 8))
      await stream.write(flipped)
    }
  }
  await stream.write(raftCodec.encodeMessage({ type: 'heartbeat', from: node.id, to: node.id, term: 99, commit: 0, context: 0 }))
  // A frame larger than the limit resets the stream.
  const big = lpStream(await attacker.dialProtocol(target, raftProtocol), { maxDataLength: raftTransportLimits.maxMessageBytes * 2 })
  await big.write(new Uint8Array(raftTransportLimits.maxMessageBytes + 1)).catch(() => {})
  // Garbage on the API protocol.
  const api = lpStream(await attacker.dialProtocol(target, apiProtocol))
  await api.write(randomBytes(64)).catch(() => {})

  const deadline = Date.now() + 10_000
  while ((node.raftCounters?.resets ?? 0) < 1 || (node.raftCounters?.malformed ?? 0) < 1000 || node.forwardCounters.malformed + node.forwardCounters.served < 1) {
    if (Date.now() > deadline) break
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  const counters = node.raftCounters
  t.log(counters)
  t.true((counters?.malformed ?? 0) >= 1000, 'most garbage is refused as malformed')
  t.true((counters?.resets ?? 0) >= 1, 'the oversized frame reset its stream')
  t.true(node.forwardCounters.malformed + node.forwardCounters.served >= 1, 'the api garbage was refused or answered with an error')

  // The node still works: its term was not moved by the forged heartbeat, and it takes writes.
  const reply = await node.handle({ method: 'PUT', path: '/v1/kv/after-fuzz', query: new URLSearchParams(), body: new TextEncoder().encode(JSON.stringify({ value: 'eA==' })), internal: false, hops: 0, signal: new AbortController().signal })
  t.is(reply.status, 200)
  t.true((node.status().term) < 99)
})
