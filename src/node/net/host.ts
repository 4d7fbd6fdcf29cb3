import './polyfill.js'
import { createHmac } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { formatHostPort, type HostPort } from '../../lib/host-port.js'

/** The services every galaxy host runs besides the transports. */
export interface HostServices {
  identify: ReturnType<ReturnType<typeof identify>>
  pubsub: ReturnType<ReturnType<typeof gossipsub>>
  [key: string]: unknown
}

/** A running libp2p host of a galaxy node. */
export type Host = Libp2p<HostServices>

/** What a host is made of. */
export interface HostInit {
  /** The node's persistent identity (its peer id is the node id). */
  readonly peerKey: PrivateKey
  /** The cluster key's 32 secret bytes: without them, no connection completes. */
  readonly clusterKey: Uint8Array
  readonly listen: HostPort
}

/** The multiaddr of a TCP address. */
export function tcpMultiaddr (address: HostPort): Multiaddr {
  const family = address.host.includes(':') ? 'ip6' : /^[0-9.]+$/.test(address.host) ? 'ip4' : 'dns'
  return multiaddr(`/${family}/${address.host}/tcp/${address.port}`)
}

/**
 * The noise prologue of a cluster: both ends of a noise handshake hash their prologue into the
 * transcript that authenticates it, so a handshake between two hosts whose prologues differ fails
 * on both sides (the initiator at the second message, the responder at the third). Derived from
 * the cluster key, it is the check that keeps out whoever lacks the key, at no cost per byte — a
 * libp2p private network (`@libp2p/pnet`) would also encrypt every byte a second time, and cost
 * about a tenth of a member's throughput.
 */
export function clusterPrologue (clusterKey: Uint8Array): Uint8Array {
  return Uint8Array.from(createHmac('sha256', clusterKey).update('galaxy/noise-prologue/1').digest())
}

/**
 * Starts the node's libp2p host: TCP, noise with the cluster's prologue, yamux, identify and
 * gossipsub (messages signed by their publisher).
 */
export async function createHost (init: HostInit): Promise<Host> {
  const host = await createLibp2p({
    privateKey: init.peerKey,
    addresses: { listen: [tcpMultiaddr(init.listen).toString()] },
    transports: [tcp()],
    connectionEncrypters: [noise({ prologueBytes: clusterPrologue(init.clusterKey) })],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false })
    }
  })
  return host as unknown as Host
}

/** The listen address in HOST:PORT form, as other nodes are told to join it. */
export function describeListen (address: HostPort): string {
  return formatHostPort(address)
}
