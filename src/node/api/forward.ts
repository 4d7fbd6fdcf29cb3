import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { NodeId } from '../../lib/ids.js'
import { LazyAbort } from '../../lib/lazy-abort.js'
import type { Logger } from '../../lib/logger.js'
import { galaxy } from '../../proto/gen/api.js'
import type { Host } from '../net/host.js'
import { callTarget, type ApiCall, type ApiReply } from './call.js'
import { deadlineSignal } from '../deadline-signal.js'

/** The protocol API requests are forwarded on. */
export const apiProtocol = '/galaxy/api/1'

/** Named bounds of forwarding. */
export const forwardLimits = {
  /** A forwarded request or one frame of its answer; larger ones are refused. */
  maxFrameBytes: 64 * 1024 * 1024,
  /** A request passes through at most this many nodes (non-seed → follower → leader). */
  maxHops: 3,
  dialTimeoutMs: 3000,
  /** Forwarded requests open at once over one connection, each way (watches hold theirs). */
  maxStreams: 1024
} as const

/** Counters of the forwarding service. */
export interface ForwardCounters {
  served: number
  malformed: number
}

/**
 * Serves API requests other nodes forward here: each stream carries one `ApiRequest` frame and
 * answers with `ApiResponse` frames (head first, then body chunks, then the end of the stream).
 */
export async function serveForwarded (host: Host, handle: (call: ApiCall) => Promise<ApiReply>, counters: ForwardCounters, logger: Logger): Promise<void> {
  await host.handle(apiProtocol, (stream) => {
    void serveOne(stream, handle, counters, logger)
  }, { maxInboundStreams: forwardLimits.maxStreams, maxOutboundStreams: forwardLimits.maxStreams })
}

async function serveOne (stream: Stream, handle: (call: ApiCall) => Promise<ApiReply>, counters: ForwardCounters, logger: Logger): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: forwardLimits.maxFrameBytes })
  const gone = new LazyAbort()
  stream.addEventListener('close', () => { gone.abort() })
  try {
    let request: galaxy.ApiRequest
    try {
      request = galaxy.ApiRequest.decode((await lp.read()).subarray())
    } catch (error) {
      counters.malformed++
      stream.abort(error as Error)
      return
    }
    const url = new URL(request.path, 'http://galaxy')
    const reply = await handle({ method: request.method, path: url.pathname, query: url.searchParams, body: request.body, internal: true, hops: request.hops, get signal () { return gone.signal } })
    counters.served++
    if ('body' in reply) {
      await lp.write(galaxy.ApiResponse.encode({ status: reply.status, contentType: reply.contentType, body: reply.body }).finish())
    } else {
      await lp.write(galaxy.ApiResponse.encode({ status: reply.status, contentType: reply.contentType, streamed: true }).finish())
      for await (const chunk of reply.stream) {
        if (gone.aborted) break
        await lp.write(galaxy.ApiResponse.encode({ body: chunk }).finish())
      }
    }
    await stream.close()
  } catch (error) {
    logger.debug('forwarded request failed', { error: (error as Error).message })
    stream.abort(error as Error)
  }
}

/** The request never left this node: no connection or stream could be opened. Safe to try another node. */
export class ForwardDialError extends Error {}

/** Where to forward: a known member by id (and its addresses), or an address to dial. */
export interface ForwardTarget {
  readonly id?: NodeId
  readonly addresses: readonly string[]
}

/**
 * Forwards a call to another node and returns its answer; a streamed answer keeps the stream open
 * until the caller stops reading or the call's signal aborts.
 */
export async function forwardCall (host: Host, target: ForwardTarget, call: ApiCall, timeoutMs: number): Promise<ApiReply> {
  const dialSignal = deadlineSignal(forwardLimits.dialTimeoutMs, call.signal)
  const targets = target.addresses.map(address => multiaddr(target.id === undefined ? address : `${address}/p2p/${target.id}`))
  let stream: Stream
  try {
    stream = targets.length > 0
      ? await host.dialProtocol(targets, apiProtocol, { signal: dialSignal, maxOutboundStreams: forwardLimits.maxStreams })
      : await host.dialProtocol(peerIdFromString(target.id ?? ''), apiProtocol, { signal: dialSignal, maxOutboundStreams: forwardLimits.maxStreams })
  } catch (error) {
    throw new ForwardDialError((error as Error).message, { cause: error })
  }
  const lp = lpStream(stream, { maxDataLength: forwardLimits.maxFrameBytes })
  const onAbort = (): void => { stream.abort(new Error('caller went away')) }
  call.signal.addEventListener('abort', onAbort, { once: true })
  try {
    await lp.write(galaxy.ApiRequest.encode({ method: call.method, path: callTarget(call), body: call.body, hops: call.hops + 1 }).finish())
    const head = galaxy.ApiResponse.decode((await lp.read({ signal: deadlineSignal(Math.ceil(timeoutMs), call.signal) })).subarray())
    if (!head.streamed) {
      call.signal.removeEventListener('abort', onAbort)
      await stream.close().catch(() => {})
      return { status: head.status, contentType: head.contentType, body: head.body }
    }
    return { status: head.status, contentType: head.contentType, stream: readChunks(lp, stream, call.signal, onAbort) }
  } catch (error) {
    call.signal.removeEventListener('abort', onAbort)
    stream.abort(error as Error)
    throw error
  }
}

async function * readChunks (lp: ReturnType<typeof lpStream<Stream>>, stream: Stream, signal: AbortSignal, onAbort: () => void): AsyncIterable<Uint8Array> {
  try {
    while (!signal.aborted) {
      let frame
      try {
        frame = await lp.read({ signal })
      } catch {
        return
      }
      yield galaxy.ApiResponse.decode(frame.subarray()).body
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
    stream.abort(new Error('done'))
  }
}
