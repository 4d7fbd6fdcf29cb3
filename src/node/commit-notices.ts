import type { NodeId } from '../lib/ids.js'
import type { Message } from '../raft/types.js'

/** Named bounds of holding commit notices. */
export const commitNoticeLimits = {
  /** The longest an append without entries waits for a newer append to the same follower to replace it. */
  holdMs: 5
}

/** Timers, injectable so that tests can run the hold on a manual clock. */
export interface NoticeTimers {
  readonly set: (callback: () => void, ms: number) => unknown
  readonly clear: (handle: unknown) => void
}

const realTimers: NoticeTimers = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: handle => { clearTimeout(handle as NodeJS.Timeout) }
}

/**
 * Holds a leader's appends that carry no entries — mostly the commit notices Raft sends each
 * follower when the commit index moves — for up to `holdMs`, and drops a held one when a newer
 * append to the same follower goes out first (it carries a commit index at least as new). Under a
 * stream of writes the next write's append replaces nearly every notice, which spares each write
 * two messages out, two answers back and their encryption on every side; an idle leader sends its
 * last notice `holdMs` late. Holding, dropping and reordering are all things the network may do to
 * Raft messages, so safety does not depend on them.
 *
 * A follower waiting on the commit index — one that forwarded a proposal or a read — gets its
 * notices at once until one covers the leader's last index at the time it asked, so that writes
 * and reads served by followers are not slowed. For a proposal, a notice of the leader's disk
 * (`durable`) covers it too: with it the follower commits the entry itself once its own disk
 * holds it (`inferCommit`), so the commit notice that follows may wait like any other.
 */
export class CommitNotices {
  private readonly held = new Map<NodeId, Message>()
  /** Per follower, the index its forwarded reads wait to see committed. */
  private readonly reads = new Map<NodeId, number>()
  /** Per follower, the index its forwarded proposals wait for: committed, or on the leader's disk. */
  private readonly proposals = new Map<NodeId, number>()
  private timer: unknown

  constructor (
    private readonly send: (messages: readonly Message[]) => void,
    private readonly holdMs = commitNoticeLimits.holdMs,
    private readonly timers: NoticeTimers = realTimers
  ) {}

  /** `follower` forwarded a proposal or a read and waits for `index` (the leader's last index then). */
  expect (follower: NodeId, index: number, kind: 'proposal' | 'read'): void {
    const waiting = kind === 'proposal' ? this.proposals : this.reads
    waiting.set(follower, Math.max(index, waiting.get(follower) ?? 0))
  }

  /** Sends `messages` in order, except the appends without entries that may wait. */
  deliver (messages: readonly Message[]): void {
    const now: Message[] = []
    for (const message of messages) {
      if (message.type === 'append') {
        this.held.delete(message.to)
        const read = this.reads.get(message.to)
        const proposal = this.proposals.get(message.to)
        if (read !== undefined && message.commit >= read) this.reads.delete(message.to)
        if (proposal !== undefined && Math.max(message.commit, message.durable ?? 0) >= proposal) this.proposals.delete(message.to)
        if (message.entries.length === 0 && read === undefined && proposal === undefined) {
          this.held.set(message.to, message)
          continue
        }
      }
      now.push(message)
    }
    if (now.length > 0) this.send(now)
    // The hold ends with the notices it was started for: a timer left running would cut short the
    // hold of a later write's notice (with one client writing about 300 times a second, it sent
    // each follower a notice for about one write in seven, and each notice got an answer).
    if (this.held.size === 0) this.cancelTimer()
    else if (this.timer === undefined) this.timer = this.timers.set(() => { this.flush() }, this.holdMs)
  }

  /** Sends every held notice now. */
  flush (): void {
    this.cancelTimer()
    if (this.held.size === 0) return
    const notices = [...this.held.values()]
    this.held.clear()
    this.send(notices)
  }

  /** Forgets what is held (the node is stopping). */
  stop (): void {
    this.cancelTimer()
    this.held.clear()
    this.reads.clear()
    this.proposals.clear()
  }

  private cancelTimer (): void {
    if (this.timer !== undefined) this.timers.clear(this.timer)
    this.timer = undefined
  }
}
