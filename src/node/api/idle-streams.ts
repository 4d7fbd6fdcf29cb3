import type { Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'

/** A forwarding stream and its length-prefixed reader (which holds the listeners and bytes read). */
export interface ForwardStream {
  readonly raw: Stream
  readonly lp: LengthPrefixedStream<Stream>
}

/** Named bounds of the idle streams kept for forwarding. */
export const idleStreamLimits = {
  /** Idle streams kept per peer; one more is closed instead of kept. */
  perPeer: 32,
  /** An idle stream unused this long is closed. */
  idleMs: 30_000
} as const

interface Idle {
  readonly stream: ForwardStream
  readonly timer: NodeJS.Timeout
  readonly gone: () => void
}

/**
 * Open forwarding streams that no call is using, per peer, so that the next call to that peer
 * skips opening a stream: a new one costs a protocol negotiation round trip and the peer store's
 * bookkeeping on both nodes, which made a forwarded put cost about twice a put served by a seed.
 * Calls take streams one at a time and put them back only after a complete answer; a stream that
 * closes or is half-closed by the other side while idle leaves at once.
 */
export class IdleStreams {
  private readonly byPeer = new Map<string, Idle[]>()

  constructor (private readonly limits: { readonly perPeer: number, readonly idleMs: number } = idleStreamLimits) {}

  /** The most recently used idle stream to `peer` that is still open both ways, if any. */
  take (peer: string): ForwardStream | undefined {
    const idle = this.byPeer.get(peer)
    while (idle !== undefined && idle.length > 0) {
      const entry = idle.pop() as Idle
      this.forget(entry)
      if (usable(entry.stream.raw)) return entry.stream
      entry.stream.raw.abort(new Error('stale forwarding stream'))
    }
    return undefined
  }

  /** Keeps a stream whose call completed for the next call to `peer`, or closes it. */
  put (peer: string, stream: ForwardStream): void {
    const idle = this.byPeer.get(peer) ?? []
    if (!usable(stream.raw) || idle.length >= this.limits.perPeer) {
      closeQuietly(stream.raw)
      return
    }
    this.byPeer.set(peer, idle)
    const gone = (): void => { this.drop(peer, entry) }
    const entry: Idle = { stream, gone, timer: setTimeout(gone, this.limits.idleMs).unref() }
    stream.raw.addEventListener('close', gone)
    stream.raw.addEventListener('remoteCloseWrite', gone)
    idle.push(entry)
  }

  /** How many idle streams are kept for `peer`. */
  count (peer: string): number {
    return this.byPeer.get(peer)?.length ?? 0
  }

  /** Closes every idle stream. */
  closeAll (): void {
    for (const idle of this.byPeer.values()) {
      for (const entry of idle.splice(0)) {
        this.forget(entry)
        closeQuietly(entry.stream.raw)
      }
    }
    this.byPeer.clear()
  }

  /** Closes an idle stream that timed out or that the other side closed. */
  private drop (peer: string, entry: Idle): void {
    const idle = this.byPeer.get(peer) ?? []
    const at = idle.indexOf(entry)
    if (at < 0) return
    idle.splice(at, 1)
    this.forget(entry)
    closeQuietly(entry.stream.raw)
  }

  private forget (entry: Idle): void {
    clearTimeout(entry.timer)
    entry.stream.raw.removeEventListener('close', entry.gone)
    entry.stream.raw.removeEventListener('remoteCloseWrite', entry.gone)
  }
}

function usable (raw: Stream): boolean {
  return raw.status === 'open' && raw.writeStatus === 'writable' && raw.remoteWriteStatus === 'writable' && raw.readStatus === 'readable'
}

function closeQuietly (raw: Stream): void {
  if (raw.status !== 'open') return
  void raw.close({ signal: AbortSignal.timeout(1000) }).catch(() => { raw.abort(new Error('forwarding stream closed')) })
}
