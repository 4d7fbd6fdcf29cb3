import { DecodeError } from '../decode-error.js'

// The pull socket's wire format, and the only place it is written down.
//
// An AppWorker keeps one Unix stream connection open to its container's `agent.sock` (re-opened
// when it breaks) and makes one pull at a time on it: it writes a request, the node writes back
// exactly one reply.
//
//   frame   = length (4 bytes, unsigned big-endian) + payload (`length` bytes, at most the
//             socket's `maxBodyBytes`)
//   request = a frame whose payload is a PullRequest (proto/galaxy/appworker.proto)
//   reply   = a frame whose payload is one status byte + a body:
//               0 ok           the body is a PullResponse
//               1 refused      the body is a one-line UTF-8 message: the request did not decode, or
//                              was refused (a pull for another container); `answer` never saw it
//               2 unavailable  the body is a one-line UTF-8 message: the node could not answer now
//
// A connection's requests are answered one at a time, in order: the node stops reading a
// connection while it answers, so a client that wrote a second request before the first reply
// would get both replies, in order (the AppWorker never does; SocketCommandSource refuses it). A
// peer that breaks the format (a length over the bound, a reply without a known status, a reply
// nobody asked for) loses its connection; the bytes a length claims are never allocated before
// they arrived.

/** The bytes of a frame's length. */
export const frameHeaderBytes = 4

/** A reply's status byte. */
export const pullReplyStatus = { ok: 0, refused: 1, unavailable: 2 } as const

/** The longest message a refused or unavailable reply carries. */
export const maxReplyMessageChars = 500

/** One reply, read: a PullResponse's bytes, or why there is none. */
export type PullReply =
  | { readonly status: 'ok', readonly body: Buffer }
  | { readonly status: 'refused' | 'unavailable', readonly message: string }

/** A frame carrying `payload`, which the caller has checked against the bound. */
export function encodeFrame (payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(frameHeaderBytes + payload.byteLength)
  frame.writeUInt32BE(payload.byteLength, 0)
  frame.set(payload, frameHeaderBytes)
  return frame
}

/** A reply frame: ok with a PullResponse's bytes, or refused or unavailable with a message cut to one short line. */
export function encodeReply (reply: { readonly status: 'ok', readonly body: Uint8Array } | { readonly status: 'refused' | 'unavailable', readonly message: string }): Buffer {
  const body = reply.status === 'ok' ? reply.body : Buffer.from(oneLine(reply.message), 'utf8')
  const payload = Buffer.allocUnsafe(1 + body.byteLength)
  payload[0] = pullReplyStatus[reply.status]
  payload.set(body, 1)
  return encodeFrame(payload)
}

/** A reply frame's payload read, or undefined when it has no status byte or an unknown one. */
export function decodeReply (payload: Buffer): PullReply | undefined {
  const body = payload.subarray(1)
  switch (payload[0]) {
    case pullReplyStatus.ok: return { status: 'ok', body }
    case pullReplyStatus.refused: return { status: 'refused', message: oneLine(body.toString('utf8')) }
    case pullReplyStatus.unavailable: return { status: 'unavailable', message: oneLine(body.toString('utf8')) }
    default: return undefined
  }
}

function oneLine (message: string): string {
  return (message.split('\n')[0] ?? '').slice(0, maxReplyMessageChars)
}

/**
 * Cuts one connection's byte stream into frame payloads. It holds at most two frames' worth of
 * bytes (a whole frame and the start of the next arrive in one read), and throws a `DecodeError`
 * (the connection is to be dropped) when a length claims more than `maxPayloadBytes` or the peer
 * sends more than it may hold.
 */
export class FrameReader {
  private chunks: Buffer[] = []
  private bufferedBytes = 0

  constructor (private readonly maxPayloadBytes: number) {}

  /** Whether bytes of a frame not yet whole are held. */
  get hasBytes (): boolean {
    return this.bufferedBytes > 0
  }

  /** Adds the bytes of one read. */
  push (chunk: Buffer): void {
    this.chunks.push(chunk)
    this.bufferedBytes += chunk.byteLength
    if (this.bufferedBytes > 2 * (frameHeaderBytes + this.maxPayloadBytes)) {
      throw new DecodeError(`a pull socket peer sent ${this.bufferedBytes} bytes ahead, more than two frames`)
    }
  }

  /** The next whole frame's payload, or undefined until it has all arrived. */
  next (): Buffer | undefined {
    if (this.bufferedBytes < frameHeaderBytes) return undefined
    if ((this.chunks[0]?.byteLength ?? 0) < frameHeaderBytes) this.chunks = [Buffer.concat(this.chunks, this.bufferedBytes)]
    const length = (this.chunks[0] as Buffer).readUInt32BE(0)
    if (length > this.maxPayloadBytes) throw new DecodeError(`a pull socket frame of ${length} bytes, more than the ${this.maxPayloadBytes} allowed`)
    const frameBytes = frameHeaderBytes + length
    if (this.bufferedBytes < frameBytes) return undefined
    const all = this.chunks.length === 1 ? this.chunks[0] as Buffer : Buffer.concat(this.chunks, this.bufferedBytes)
    const rest = all.subarray(frameBytes)
    this.chunks = rest.byteLength === 0 ? [] : [rest]
    this.bufferedBytes = rest.byteLength
    return all.subarray(frameHeaderBytes, frameBytes)
  }
}
