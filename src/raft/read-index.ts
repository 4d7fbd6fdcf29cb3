import type { NodeId } from '../lib/ids.js'

/** A read waiting for the leader to confirm it still leads. */
export interface ReadRequest {
  /** The leader's commit index when the request arrived: the read index it will answer with. */
  readonly index: number
  /** Who asked: the leader itself, or a follower that forwarded the request. */
  readonly from: NodeId
  readonly context: string
}

interface Pending extends ReadRequest {
  readonly acks: Set<NodeId>
}

/**
 * The leader's ReadIndex bookkeeping (thesis §6.4). Each request gets its own id, fresh per
 * arrival even when a client retries with the same context (etcd #20418), and that id rides on the
 * heartbeat round that confirms it. A quorum acknowledging a round confirms every request up to it.
 */
export class ReadIndexQueue {
  private readonly pending = new Map<number, Pending>()
  private lastId = 0

  /** Queues a request and returns the id to send with the confirming heartbeat. */
  add (request: ReadRequest, selfId: NodeId): number {
    const id = ++this.lastId
    this.pending.set(id, { ...request, acks: new Set([selfId]) })
    return id
  }

  /** Records that `from` answered the heartbeat round `id`; returns who has acknowledged it so far. */
  acknowledge (id: number, from: NodeId): ReadonlySet<NodeId> | undefined {
    const request = this.pending.get(id)
    request?.acks.add(from)
    return request?.acks
  }

  /** Removes and returns every request up to and including `id`, oldest first. */
  release (id: number): ReadRequest[] {
    const released: ReadRequest[] = []
    for (const [pendingId, request] of this.pending) {
      if (pendingId > id) break
      released.push({ index: request.index, from: request.from, context: request.context })
      this.pending.delete(pendingId)
    }
    return released
  }

  /** The id of the newest waiting request, 0 when none waits: heartbeats carry it so that any round can confirm reads. */
  newestId (): number {
    let newest = 0
    for (const id of this.pending.keys()) newest = id
    return newest
  }

  size (): number {
    return this.pending.size
  }
}
