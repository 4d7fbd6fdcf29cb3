import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createHost, type Host } from '../../src/node/net/host.js'
import { generateClusterKey, parseClusterKey } from '../../src/node/net/identity.js'
import { freePort } from '../helpers/free-port.js'
import { waitFor } from '../helpers/wait-for.js'

async function startHost (t: { teardown: (fn: () => Promise<void>) => void }, clusterKey: Uint8Array): Promise<Host> {
  const host = await createHost({ peerKey: await generateKeyPair('Ed25519'), clusterKey, listen: { host: '127.0.0.1', port: await freePort() } })
  t.teardown(async () => { await host.stop() })
  return host
}

const dial = async (from: Host, to: Host): Promise<void> => {
  await from.dial(to.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })
}

test('hosts connect only when they hold the same cluster key, whichever side dials', async t => {
  t.timeout(60_000)
  const ours = parseClusterKey(generateClusterKey(), 'ours')
  const theirs = parseClusterKey(generateClusterKey(), 'theirs')
  const a = await startHost(t, ours)
  const b = await startHost(t, ours)
  const stranger = await startHost(t, theirs)

  await dial(a, b)
  t.is(a.getConnections(b.peerId).length, 1)
  await waitFor('b to see the connection from a', async () => b.getConnections(a.peerId).length === 1, 5000, 20)

  await t.throwsAsync(dial(stranger, a))
  await t.throwsAsync(dial(a, stranger))
  t.is(a.getConnections(stranger.peerId).length, 0)
  t.is(stranger.getConnections(a.peerId).length, 0)
})

test('a cluster key is 32 random bytes in the swarm-key text format, and anything else is refused', t => {
  const text = generateClusterKey()
  t.regex(text, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
  t.is(parseClusterKey(text, 'k').length, 32)
  t.notDeepEqual(parseClusterKey(generateClusterKey(), 'k'), parseClusterKey(text, 'k'))
  t.throws(() => parseClusterKey(text.replace('/base16/', '/base64/'), 'k.key'), { message: /k\.key is not a galaxy cluster key/ })
})
