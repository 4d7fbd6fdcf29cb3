import { assert } from '../lib/assert.js'
import type { KeyValue, WatchEvent } from './types.js'

/** The events kept for watchers (up to a tenth more between trims); older ones are compacted away on apply, the same on every node. */
export const maxHistoryEvents = 100_000

/** How far past `maxHistoryEvents` the history grows before it is trimmed back to it. */
const historyTrimEvents = maxHistoryEvents / 10

/** The plain data of a `KeyStore`, for snapshots. */
export interface KeyStoreData {
  readonly revision: number
  readonly compactRevision: number
  readonly keys: readonly KeyValue[]
  readonly history: readonly WatchEvent[]
}

/**
 * Versioned keys under a global revision (etcd's MVCC, latest versions only), in key order for
 * ranges, with a history of changes since the compaction revision for watchers.
 */
export class KeyStore {
  revision = 0
  compactRevision = 0
  private readonly keys = new Map<string, KeyValue>()
  /** Every key, sorted, for ranges and paging. */
  private readonly sorted: string[] = []
  private history: WatchEvent[] = []

  get (key: string): KeyValue | undefined {
    return this.keys.get(key)
  }

  /** Keys starting with `prefix`, after `after` (exclusive, for paging), at most `limit`. */
  range (prefix: string, after: string | undefined, limit: number): { items: KeyValue[], more: boolean } {
    const start = after === undefined ? lowerBound(this.sorted, prefix) : upperBound(this.sorted, after)
    const items: KeyValue[] = []
    for (let i = Math.max(start, lowerBound(this.sorted, prefix)); i < this.sorted.length; i++) {
      const key = this.sorted[i] as string
      if (!key.startsWith(prefix)) break
      if (items.length === limit) return { items, more: true }
      items.push(this.keys.get(key) as KeyValue)
    }
    return { items, more: false }
  }

  /** Every key starting with `prefix`. */
  keysWithPrefix (prefix: string): string[] {
    const keys: string[] = []
    for (let i = lowerBound(this.sorted, prefix); i < this.sorted.length && (this.sorted[i] as string).startsWith(prefix); i++) keys.push(this.sorted[i] as string)
    return keys
  }

  /** Writes `key` at `revision` (the caller bumps the revision once per write transaction). */
  put (key: string, value: Uint8Array, lease: number, revision: number): KeyValue {
    const previous = this.keys.get(key)
    const next: KeyValue = {
      key,
      value,
      createRevision: previous?.createRevision ?? revision,
      modRevision: revision,
      version: (previous?.version ?? 0) + 1,
      lease
    }
    if (previous === undefined) this.sorted.splice(lowerBound(this.sorted, key), 0, key)
    this.keys.set(key, next)
    this.record({ type: 'put', revision, key, value, version: next.version })
    return next
  }

  /** Deletes `key` at `revision`; returns what it held, or undefined when it was absent. */
  delete (key: string, revision: number): KeyValue | undefined {
    const previous = this.keys.get(key)
    if (previous === undefined) return undefined
    this.keys.delete(key)
    this.sorted.splice(lowerBound(this.sorted, key), 1)
    this.record({ type: 'delete', revision, key, value: new Uint8Array(), version: 0 })
    return previous
  }

  private record (event: WatchEvent): void {
    this.history.push(event)
    // Trim in steps of a tenth, not one event per write: each trim copies the history, so trimming
    // on every write past the bound made every write cost the whole history.
    if (this.history.length > maxHistoryEvents + historyTrimEvents) {
      const dropUpTo = (this.history[this.history.length - maxHistoryEvents] as WatchEvent).revision - 1
      this.compact(dropUpTo)
    }
  }

  /**
   * Events on keys under `prefix` with revision ≥ `fromRevision`, oldest first, at most `limit`
   * (never splitting a revision). `compacted` when events from there were discarded.
   */
  eventsSince (prefix: string, fromRevision: number, limit: number): { events: WatchEvent[], compacted: false } | { compacted: true, compactRevision: number } {
    if (fromRevision <= this.compactRevision) return { compacted: true, compactRevision: this.compactRevision }
    const events: WatchEvent[] = []
    let i = firstEventAtOrAfter(this.history, fromRevision)
    for (; i < this.history.length; i++) {
      const event = this.history[i] as WatchEvent
      if (!event.key.startsWith(prefix)) continue
      if (events.length >= limit && event.revision !== (events[events.length - 1] as WatchEvent).revision) break
      events.push(event)
    }
    return { events, compacted: false }
  }

  /** Forgets events at or below `revision`. */
  compact (revision: number): void {
    assert(revision <= this.revision, 'compaction past the current revision', { revision, current: this.revision })
    if (revision <= this.compactRevision) return
    this.history = this.history.slice(firstEventAtOrAfter(this.history, revision + 1))
    this.compactRevision = revision
  }

  toData (): KeyStoreData {
    return { revision: this.revision, compactRevision: this.compactRevision, keys: this.sorted.map(key => this.keys.get(key) as KeyValue), history: this.history.slice() }
  }

  static fromData (data: KeyStoreData): KeyStore {
    const store = new KeyStore()
    store.revision = data.revision
    store.compactRevision = data.compactRevision
    for (const kv of data.keys) {
      store.keys.set(kv.key, kv)
      store.sorted.push(kv.key)
    }
    store.sorted.sort(compareKeys)
    store.history = data.history.slice()
    return store
  }
}

/** Keys compare by UTF-16 code units, the same on every node. */
function compareKeys (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The first index in [0, length) for which `isBefore` is false, given it is true up to some point and false after. */
function partitionPoint (length: number, isBefore: (index: number) => boolean): number {
  let lo = 0
  let hi = length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (isBefore(mid)) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Where `key` is, or would be inserted, in sorted keys. */
function lowerBound (sorted: readonly string[], key: string): number {
  return partitionPoint(sorted.length, i => (sorted[i] as string) < key)
}

/** The first position after every key ≤ `key`. */
function upperBound (sorted: readonly string[], key: string): number {
  return partitionPoint(sorted.length, i => (sorted[i] as string) <= key)
}

function firstEventAtOrAfter (history: readonly WatchEvent[], revision: number): number {
  return partitionPoint(history.length, i => (history[i] as WatchEvent).revision < revision)
}
