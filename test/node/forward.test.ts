import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { silentLogger } from '../../src/lib/logger.js'
import type { NodeId } from '../../src/lib/ids.js'
import { jsonReply, type ApiCall, type ApiReply } from '../../src/node/api/call.js'
import { apiProtocol, ForwardDialError, forwardCall, serveForwarded, type ForwardCounters, type ForwardTarget } from '../../src/node/api/forward.js'
import { IdleStreams } from '../../src/node/api/idle-streams.js'
import { createHost, type Host } from '../../src/node/net/host.js'
import { generateClusterKey, parseClusterKey } from '../../src/node/net/identity.js'
import { freePort } from '../helpers/free-port.js'
import { waitFor } from '../helpers/wait-for.js'

const decoder = new TextDecoder()

async function startHost (t: { teardown: (fn: () => Promise<void>) => void }, clusterKey: Uint8Array): Promise<Host> {
  const host = await createHost({ peerKey: await generateKeyPair('Ed25519'), clusterKey, listen: { host: '127.0.0.1', port: await freePort() } })
  t.teardown(async () => { await host.stop() })
  return host
}

/** A server that answers `/echo` with what it was asked and how many calls it served, `/chunks` with three chunks. */
async function startServer (t: { teardown: (fn: () => Promise<void>) => void }, clusterKey: Uint8Array): Promise<{ host: Host, counters: ForwardCounters, target: ForwardTarget }> {
  const host = await startHost(t, clusterKey)
  const counters: ForwardCounters = { streams: 0, served: 0, malformed: 0 }
  await serveForwarded(host, async (call: ApiCall): Promise<ApiReply> => {
    if (call.path === '/chunks') {
      return { status: 200, contentType: 'text/plain', stream: (async function * () { for (const part of ['a', 'b', 'c']) yield new TextEncoder().encode(part) })() }
    }
    return jsonReply(200, { method: call.method, path: call.path, body: decoder.decode(call.body), hops: call.hops })
  }, counters, silentLogger)
  return { host, counters, target: { id: host.peerId.toString() as NodeId, addresses: host.getMultiaddrs().map(address => address.decapsulateCode(421).toString()) } }
}

function call (path: string, body = '', signal = new AbortController().signal): ApiCall {
  return { method: 'PUT', path, query: new URLSearchParams(), body: new TextEncoder().encode(body), internal: false, hops: 0, signal }
}

function answer (reply: ApiReply): unknown {
  if (!('body' in reply)) throw new Error('expected a whole answer')
  return JSON.parse(decoder.decode(reply.body))
}

test('forwarded calls to one node reuse the streams completed calls left, one call per stream at a time', async t => {
  t.timeout(60_000)
  const key = parseClusterKey(generateClusterKey(), 'key')
  const client = await startHost(t, key)
  const server = await startServer(t, key)
  const idle = new IdleStreams()
  t.teardown(() => { idle.closeAll() })
  const peer = server.target.id ?? ''

  for (let i = 0; i < 3; i++) {
    t.deepEqual(answer(await forwardCall(client, server.target, call(`/echo/${i}`, `body ${i}`), 5000, idle)), { method: 'PUT', path: `/echo/${i}`, body: `body ${i}`, hops: 1 })
  }
  t.is(server.counters.served, 3)
  t.is(server.counters.streams, 1, 'three calls one after another used one stream')
  t.is(idle.count(peer), 1)

  // Calls at the same time each need a stream of their own, and all of them are kept afterwards.
  const answers = await Promise.all([0, 1, 2].map(async i => answer(await forwardCall(client, server.target, call(`/at-once/${i}`), 5000, idle))))
  t.deepEqual(answers.map(body => (body as { path: string }).path), ['/at-once/0', '/at-once/1', '/at-once/2'])
  t.is(server.counters.streams, 3)
  t.is(idle.count(peer), 3)

  // A streamed answer is its stream's last: the stream is not kept.
  const streamed = await forwardCall(client, server.target, call('/chunks'), 5000, idle)
  t.false('body' in streamed)
  const chunks: string[] = []
  if (!('body' in streamed)) for await (const chunk of streamed.stream) chunks.push(decoder.decode(chunk))
  t.deepEqual(chunks, ['a', 'b', 'c'])
  t.is(idle.count(peer), 2, 'the streamed call took an idle stream and did not give it back')
  t.is(server.counters.malformed, 0)

  // Without the pool every call opens a stream, as a join by address does.
  const before = server.counters.streams
  await forwardCall(client, server.target, call('/echo/once'), 5000)
  await forwardCall(client, server.target, call('/echo/once'), 5000)
  t.is(server.counters.streams, before + 2)
})

test('idle streams that close leave the pool, and the next call opens a new one', async t => {
  t.timeout(60_000)
  const key = parseClusterKey(generateClusterKey(), 'key')
  const client = await startHost(t, key)
  const server = await startServer(t, key)
  const idle = new IdleStreams({ perPeer: 1, idleMs: 60_000 })
  t.teardown(() => { idle.closeAll() })
  const peer = server.target.id ?? ''

  await Promise.all([0, 1].map(async i => await forwardCall(client, server.target, call(`/echo/${i}`), 5000, idle)))
  t.is(server.counters.streams, 2)
  t.is(idle.count(peer), 1, 'a peer keeps at most perPeer idle streams')

  // The connection goes away (the server restarts, say): the idle stream leaves the pool.
  await Promise.all(server.host.getConnections().map(async connection => { await connection.close() }))
  await waitFor('the idle stream to leave', async () => idle.count(peer) === 0, 5000, 20)
  t.deepEqual(answer(await forwardCall(client, server.target, call('/echo/after'), 5000, idle)), { method: 'PUT', path: '/echo/after', body: '', hops: 1 })
  t.is(server.counters.streams, 3)

  // A caller that gives up before the answer aborts its stream: it is not kept.
  t.is(idle.count(peer), 1)
  const gaveUp = new AbortController()
  const pending = forwardCall(client, server.target, call('/echo/gave-up', '', gaveUp.signal), 5000, idle)
  gaveUp.abort()
  t.is(await pending.then(() => 'answered', () => 'failed'), 'failed')
  t.is(idle.count(peer), 0)

  // A caller gone before the call starts sends nothing.
  const served = server.counters.served
  const gone = new AbortController()
  gone.abort()
  await t.throwsAsync(forwardCall(client, server.target, call('/echo/never', '', gone.signal), 5000, idle), { instanceOf: ForwardDialError, message: 'the caller went away' })
  t.is(server.counters.served, served)

  // An idle stream unused for idleMs is closed, and the server's side ends without an error.
  idle.closeAll()
  const short = new IdleStreams({ perPeer: 4, idleMs: 100 })
  t.teardown(() => { short.closeAll() })
  await forwardCall(client, server.target, call('/echo/short'), 5000, short)
  t.is(short.count(peer), 1)
  await waitFor('the idle stream to time out', async () => short.count(peer) === 0, 5000, 20)
  await waitFor('the server to end its streams', async () => server.host.getConnections().flatMap(connection => connection.streams).filter(stream => stream.protocol === apiProtocol).length === 0, 5000, 20)
  t.is(server.counters.malformed, 0, 'a stream closed between requests is not a malformed request')
})
