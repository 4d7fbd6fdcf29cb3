import type { PeerId, Stream, StreamMessageEvent } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import protobuf from 'protobufjs/minimal.js'
import type { NodeId } from '../lib/ids.js'
import type { Logger } from '../lib/logger.js'
import type { Message } from '../raft/types.js'
import { DecodeError } from './decode-error.js'
import type { Host } from './net/host.js'
import { raftCodec } from './raft-codec.js'

/** The protocol Raft messages travel on, one long-lived outbound stream per peer. */
export const raftProtocol = '/galaxy/raft/1'

/** Named bounds of the transport. */
export const raftTransportLimits = {
  /** A frame larger than this is refused and its stream reset (a snapshot chunk is 1 MiB). */
  maxMessageBytes: 8 * 1024 * 1024,
  /** Messages waiting for one peer; more are dropped (Raft resends). */
  maxQueuedMessages: 4096,
  /** Reconnect backoff: first and longest wait after a failed dial. */
  minBackoffMs: 50,
  maxBackoffMs: 2000,
  dialTimeoutMs: 2000
} as const

/** What the transport counts; exposed in status and checked by tests. */
export interface RaftTransportCounters {
  sent: number
  received: number
  /** Dropped on the way out: queue full, peer unknown or unreachable. */
  dropped: number
  /** Frames that did not decode, or claimed to come from another node: dropped. */
  malformed: number
  /** Streams reset for an oversized or broken frame. */
  resets: number
}

/**
 * Carries Raft messages between members over libp2p: length-prefixed protobuf, one outbound
 * stream per peer kept open and re-dialled with backoff. Delivery is best effort, which is all
 * Raft asks for: lost messages are resent by the core.
 */
export class RaftTransport {
  readonly counters: RaftTransportCounters = { sent: 0, received: 0, dropped: 0, malformed: 0, resets: 0 }
  private readonly links = new Map<NodeId, PeerLink>()
  private stopped = false

  constructor (
    private readonly host: Host,
    private readonly init: {
      /** Where a member can be dialled (multiaddrs without the /p2p suffix). */
      readonly addressesOf: (id: NodeId) => readonly string[]
      readonly onMessage: (message: Message) => void
      /** Whether losing this peer matters (it is the leader we follow): only then is it redialled on disconnect. */
      readonly watches: (id: NodeId) => boolean
      /** A watched peer disconnected and could not be dialled again: its process is gone. */
      readonly onGone: (id: NodeId) => void
      readonly logger: Logger
    }
  ) {}

  async start (): Promise<void> {
    await this.host.handle(raftProtocol, (stream, connection) => {
      this.receive(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 64 })
    this.host.addEventListener('peer:disconnect', this.onDisconnect)
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.host.removeEventListener('peer:disconnect', this.onDisconnect)
    await this.host.unhandle(raftProtocol)
    for (const link of this.links.values()) link.close()
    this.links.clear()
  }

  /** Queues messages for their peers; never blocks and never throws. */
  send (messages: readonly Message[]): void {
    if (this.stopped) return
    for (const message of messages) {
      let link = this.links.get(message.to)
      if (link === undefined) {
        link = new PeerLink(this.host, message.to, this.init.addressesOf, this.counters, this.init.logger)
        this.links.set(message.to, link)
      }
      link.enqueue(raftCodec.encodeMessage(message))
    }
  }

  /**
   * When the last connection to the leader closes, one dial tells a dead process (refused at once,
   * as after a crash or `kill -9`) from a connection that merely dropped; the first is reported so
   * that the followers need not wait out an election timeout. A host that vanished without closing
   * its connections, or a partition, is left to the election timeout as before.
   */
  private readonly onDisconnect = (event: CustomEvent<PeerId>): void => {
    const peer = event.detail.toString() as NodeId
    if (this.stopped || !this.init.watches(peer)) return
    this.host.dial(dialTargets(peer, this.init.addressesOf), { signal: AbortSignal.timeout(raftTransportLimits.dialTimeoutMs) }).then(() => {}, (error: Error) => {
      if (this.stopped) return
      this.init.logger.info('leader unreachable after its connection closed', { peer, error: error.message })
      this.init.onGone(peer)
    })
  }

  /**
   * Reads a peer's frames as its stream's messages arrive: each chunk is split into frames and
   * every whole one handed on at once, with no promise per frame (a follower's append waited
   * through three of them, a byte-wise read of the length and one of the body).
   */
  private receive (stream: Stream, remote: string): void {
    const decoder = new LengthPrefixedDecoder({ maxDataLength: raftTransportLimits.maxMessageBytes, maxBufferSize: raftTransportLimits.maxMessageBytes + 16 })
    const onMessage = (event: StreamMessageEvent): void => {
      try {
        for (const frame of decoder.decode(event.data)) {
          if (this.stopped) return
          this.deliver(frame.subarray(), remote)
        }
      } catch (error) {
        // A frame too large to be a Raft message, or one that failed on the way in: the stream
        // cannot be trusted to stay in step, so it goes, as the read loop it replaced did.
        stream.removeEventListener('message', onMessage)
        this.counters.resets++
        this.init.logger.debug('raft stream reset', { peer: remote, error: (error as Error).message })
        stream.abort(error as Error)
      }
    }
    stream.addEventListener('message', onMessage)
  }

  private deliver (frame: Uint8Array, remote: string): void {
    let message: Message
    try {
      message = raftCodec.decodeMessage(frame)
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error
      this.counters.malformed++
      return
    }
    if (message.from !== remote) {
      this.counters.malformed++
      return
    }
    this.counters.received++
    this.init.onMessage(message)
  }
}

/** Where to dial a member: its known addresses, else whatever the peer store knows of its id. */
function dialTargets (peer: NodeId, addressesOf: (id: NodeId) => readonly string[]): Multiaddr[] | PeerId {
  const addresses = addressesOf(peer)
  return addresses.length > 0 ? addresses.map(address => multiaddr(`${address}/p2p/${peer}`)) : peerIdFromString(peer)
}

/**
 * One buffer holding every frame of a batch, each behind its varint length (protobuf's length
 * prefix, which the receiving `LengthPrefixedDecoder` reads): the stream gets one `send` per batch
 * rather than a list of two parts per message.
 */
function framed (batch: readonly Uint8Array[]): Uint8Array {
  const writer = protobuf.Writer.create()
  for (const frame of batch) writer.bytes(frame)
  return writer.finish()
}

/** Settles when a stream that refused more data can take it again; fails if it closes first. */
async function drained (stream: Stream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onDrain = (): void => {
      stream.removeEventListener('close', onClose)
      resolve()
    }
    const onClose = (): void => {
      stream.removeEventListener('drain', onDrain)
      reject(new Error('stream closed while its buffer was full'))
    }
    stream.addEventListener('drain', onDrain, { once: true })
    stream.addEventListener('close', onClose, { once: true })
  })
}

/** The outbound side towards one peer. */
class PeerLink {
  private queue: Uint8Array[] = []
  private stream: Stream | undefined
  private pumping = false
  private backoffMs = 0
  private retryAtMs = 0
  private closed = false

  constructor (
    private readonly host: Host,
    private readonly peer: NodeId,
    private readonly addressesOf: (id: NodeId) => readonly string[],
    private readonly counters: RaftTransportCounters,
    private readonly logger: Logger
  ) {}

  enqueue (frame: Uint8Array): void {
    if (this.queue.length >= raftTransportLimits.maxQueuedMessages || (this.stream === undefined && performance.now() < this.retryAtMs)) {
      this.counters.dropped++
      return
    }
    this.queue.push(frame)
    if (!this.pumping) this.pump().catch(error => { this.fail(error) })
  }

  close (): void {
    this.closed = true
    this.queue = []
    this.stream?.abort(new Error('transport stopped'))
    this.stream = undefined
  }

  private async pump (): Promise<void> {
    this.pumping = true
    try {
      while (this.queue.length > 0 && !this.closed) {
        const stream = this.stream ?? await this.connect()
        if (stream === undefined) return
        const batch = this.queue
        this.queue = []
        try {
          if (!stream.send(framed(batch))) await drained(stream)
          this.counters.sent += batch.length
        } catch (error) {
          this.counters.dropped += batch.length
          this.fail(error)
        }
      }
    } finally {
      this.pumping = false
    }
  }

  private async connect (): Promise<Stream | undefined> {
    try {
      const raw = await this.host.dialProtocol(dialTargets(this.peer, this.addressesOf), raftProtocol, { signal: AbortSignal.timeout(raftTransportLimits.dialTimeoutMs) })
      if (this.closed) {
        raw.abort(new Error('transport stopped'))
        return undefined
      }
      this.stream = raw
      this.backoffMs = 0
      raw.addEventListener('close', () => { if (this.stream === raw) this.stream = undefined })
      return raw
    } catch (error) {
      this.counters.dropped += this.queue.length
      this.queue = []
      this.fail(error)
      return undefined
    }
  }

  private fail (error: unknown): void {
    this.stream?.abort(error instanceof Error ? error : new Error(String(error)))
    this.stream = undefined
    this.backoffMs = Math.min(raftTransportLimits.maxBackoffMs, Math.max(raftTransportLimits.minBackoffMs, this.backoffMs * 2))
    this.retryAtMs = performance.now() + this.backoffMs
    this.logger.debug('raft peer unreachable', { peer: this.peer, backoffMs: this.backoffMs, error: (error as Error).message })
  }
}
