import { OrderedMap } from '@js-sdsl/ordered-map'
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
  /** Each key once, in no particular order (`toData` gives the order they were created in). */
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
  /**
   * Every key, in order, for ranges and paging: a balanced tree used as a set (a sorted array
   * made every new key cost a move of all the keys after it: 7 % of a leader's CPU at 100,000 keys).
   */
  private readonly sorted = new OrderedMap<string, undefined>([], compareKeys)
  private history: WatchEvent[] = []

  get (key: string): KeyValue | undefined {
    return this.keys.get(key)
  }

  /** Keys starting with `prefix`, after `after` (exclusive, for paging), at most `limit`. */
  range (prefix: string, after: string | undefined, limit: number): { items: KeyValue[], more: boolean } {
    const items: KeyValue[] = []
    const end = this.sorted.end()
    const start = after !== undefined && compareKeys(after, prefix) >= 0 ? this.sorted.upperBound(after) : this.sorted.lowerBound(prefix)
    for (const it = start; !it.equals(end); it.next()) {
      const key = it.pointer[0]
      if (!key.startsWith(prefix)) break
      if (items.length === limit) return { items, more: true }
      items.push(this.keys.get(key) as KeyValue)
    }
    return { items, more: false }
  }

  /** Every key starting with `prefix`. */
  keysWithPrefix (prefix: string): string[] {
    const keys: string[] = []
    const end = this.sorted.end()
    for (const it = this.sorted.lowerBound(prefix); !it.equals(end) && it.pointer[0].startsWith(prefix); it.next()) keys.push(it.pointer[0])
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
    if (previous === undefined) this.sorted.setElement(key, undefined)
    this.keys.set(key, next)
    this.record({ type: 'put', revision, key, value, version: next.version })
    return next
  }

  /** Deletes `key` at `revision`; returns what it held, or undefined when it was absent. */
  delete (key: string, revision: number): KeyValue | undefined {
    const previous = this.keys.get(key)
    if (previous === undefined) return undefined
    this.keys.delete(key)
    this.sorted.eraseElementByKey(key)
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

  /**
   * The keys in the order they were written first (one deleted and written again counts from its
   * return): the same on every member, since each applies the same log or starts from this
   * order. Not in key order: walking the tree for it held a snapshot's start up 50-60 ms at
   * 100,000 keys, the map's own order takes 1-3.
   */
  toData (): KeyStoreData {
    return { revision: this.revision, compactRevision: this.compactRevision, keys: [...this.keys.values()], history: this.history.slice() }
  }

  static fromData (data: KeyStoreData): KeyStore {
    const store = new KeyStore()
    store.revision = data.revision
    store.compactRevision = data.compactRevision
    for (const kv of data.keys) {
      store.keys.set(kv.key, kv)
      store.sorted.setElement(kv.key, undefined)
    }
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

function firstEventAtOrAfter (history: readonly WatchEvent[], revision: number): number {
  return partitionPoint(history.length, i => (history[i] as WatchEvent).revision < revision)
}
