import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { NodeId } from '../../lib/ids.js'
import { LazyAbort } from '../../lib/lazy-abort.js'
import type { Logger } from '../../lib/logger.js'
import { galaxy } from '../../proto/gen/api.js'
import type { Host } from '../net/host.js'
import { CallerCall, callTarget, type ApiCall, type ApiReply } from './call.js'
import { deadlineSignal } from '../deadline-signal.js'
import type { ForwardStream, IdleStreams } from './idle-streams.js'

/** The protocol API requests are forwarded on. */
export const apiProtocol = '/galaxy/api/2'

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
  /** Streams other nodes opened to forward requests here. */
  streams: number
  served: number
  malformed: number
}

/**
 * Serves API requests other nodes forward here. A stream carries `ApiRequest` frames one at a
 * time, each answered by one `ApiResponse` frame, so that the caller can send its next request on
 * the same stream; a streamed answer (head first, then body chunks) is the stream's last, and ends
 * it. The caller ends a stream by closing it between requests.
 */
export async function serveForwarded (host: Host, handle: (call: ApiCall) => Promise<ApiReply>, counters: ForwardCounters, logger: Logger): Promise<void> {
  await host.handle(apiProtocol, (stream) => {
    void serveStream(stream, handle, counters, logger)
  }, { maxInboundStreams: forwardLimits.maxStreams, maxOutboundStreams: forwardLimits.maxStreams })
}

async function serveStream (stream: Stream, handle: (call: ApiCall) => Promise<ApiReply>, counters: ForwardCounters, logger: Logger): Promise<void> {
  counters.streams++
  const lp = lpStream(stream, { maxDataLength: forwardLimits.maxFrameBytes })
  // Each call gets a signal of its own, aborted if the stream closes while it runs: listeners a
  // call leaves on its signal go with it instead of piling up on a long-lived stream.
  let gone = new LazyAbort()
  stream.addEventListener('close', () => { gone.abort() })
  try {
    for (let first = true; ; first = false) {
      let request: galaxy.ApiRequest
      try {
        request = galaxy.ApiRequest.decode((await lp.read()).subarray())
      } catch (error) {
        if (!first && stream.remoteWriteStatus !== 'writable') {
          await stream.close()
          return
        }
        counters.malformed++
        stream.abort(error as Error)
        return
      }
      const url = new URL(request.path, 'http://galaxy')
      gone = new LazyAbort()
      const reply = await handle(new CallerCall({ method: request.method, path: url.pathname, query: url.searchParams, body: request.body, internal: true, hops: request.hops }, gone))
      counters.served++
      if ('body' in reply) {
        await lp.write(galaxy.ApiResponse.encode({ status: reply.status, contentType: reply.contentType, body: reply.body }).finish())
        continue
      }
      await lp.write(galaxy.ApiResponse.encode({ status: reply.status, contentType: reply.contentType, streamed: true }).finish())
      for await (const chunk of reply.stream) {
        if (gone.aborted) break
        await lp.write(galaxy.ApiResponse.encode({ body: chunk }).finish())
      }
      await stream.close()
      return
    }
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
 * until the caller stops reading or the call's signal aborts. With `idle`, a call to a member known
 * by id reuses a stream a completed call left there, and leaves its own there when done.
 */
export async function forwardCall (host: Host, target: ForwardTarget, call: ApiCall, timeoutMs: number, idle?: IdleStreams): Promise<ApiReply> {
  // A caller already gone gets nothing sent on its behalf (a new stream's dial would refuse too).
  if (call.signal.aborted) throw new ForwardDialError('the caller went away')
  const request = galaxy.ApiRequest.encode({ method: call.method, path: callTarget(call), body: call.body, hops: call.hops + 1 }).finish()
  const peer = target.id
  let stream: ForwardStream
  for (;;) {
    const pooled = peer === undefined ? undefined : idle?.take(peer)
    stream = pooled ?? await openStream(host, target, call.signal)
    try {
      await stream.lp.write(request)
      break
    } catch (error) {
      stream.raw.abort(error as Error)
      // An idle stream that stopped being writable refuses the request whole: it never left, and
      // another stream may carry it. Any other failure may have sent part of it.
      if (pooled === undefined || (error as Error).name !== 'StreamStateError') throw error
    }
  }
  const { raw, lp } = stream
  const onAbort = (): void => { raw.abort(new Error('caller went away')) }
  call.signal.addEventListener('abort', onAbort, { once: true })
  try {
    const head = galaxy.ApiResponse.decode((await lp.read({ signal: deadlineSignal(Math.ceil(timeoutMs), call.signal) })).subarray())
    if (!head.streamed) {
      call.signal.removeEventListener('abort', onAbort)
      if (idle !== undefined && peer !== undefined) idle.put(peer, stream)
      else await raw.close().catch(() => {})
      return { status: head.status, contentType: head.contentType, body: head.body }
    }
    return { status: head.status, contentType: head.contentType, stream: readChunks(lp, raw, call.signal, onAbort) }
  } catch (error) {
    call.signal.removeEventListener('abort', onAbort)
    raw.abort(error as Error)
    throw error
  }
}

/** Opens a new stream to the target; it fails with `ForwardDialError` (nothing was sent). */
async function openStream (host: Host, target: ForwardTarget, signal: AbortSignal): Promise<ForwardStream> {
  const dialSignal = deadlineSignal(forwardLimits.dialTimeoutMs, signal)
  const targets = target.addresses.map(address => multiaddr(target.id === undefined ? address : `${address}/p2p/${target.id}`))
  try {
    const raw = targets.length > 0
      ? await host.dialProtocol(targets, apiProtocol, { signal: dialSignal, maxOutboundStreams: forwardLimits.maxStreams })
      : await host.dialProtocol(peerIdFromString(target.id ?? ''), apiProtocol, { signal: dialSignal, maxOutboundStreams: forwardLimits.maxStreams })
    return { raw, lp: lpStream(raw, { maxDataLength: forwardLimits.maxFrameBytes }) }
  } catch (error) {
    throw new ForwardDialError((error as Error).message, { cause: error })
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
