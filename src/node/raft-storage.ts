import { ClassicLevel } from 'classic-level'
import { assert } from '../lib/assert.js'
import { GalaxyError } from '../lib/errors.js'
import { MemoryStorage, type DurableWrite, type RaftStorage } from '../raft/storage.js'
import type { ConfState, Entry, HardState, Snapshot } from '../raft/types.js'
import { raftCodec } from './raft-codec.js'

/** Stored Raft state could not be read or written. */
export class RaftStorageError extends GalaxyError {
  static readonly code = 'ERR_RAFT_STORAGE'

  constructor (message: string, options?: { cause?: unknown }) {
    super(RaftStorageError.code, message, options)
  }
}

type Operation = { type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }

const hardStateKey = Buffer.of(0x68) // 'h'
const snapshotKey = Buffer.of(0x73) // 's'
const offsetKey = Buffer.of(0x6f) // 'o'
const entryPrefix = 0x65 // 'e'

/** `e` + the index as 8 bytes big-endian, so that keys sort in index order. */
function entryKey (index: number): Uint8Array {
  const key = Buffer.allocUnsafe(9)
  key[0] = entryPrefix
  key.writeBigUInt64BE(BigInt(index), 1)
  return key
}

/** Whether a Ready's write holds anything Raft must not forget in a crash: all but a commit move. */
export function mustSync (write: DurableWrite, saved: HardState): boolean {
  if (write.entries.length > 0 || write.snapshot !== undefined) return true
  const next = write.hardState
  return next !== undefined && (next.term !== saved.term || next.vote !== saved.vote)
}

/**
 * The Raft log, hard state and snapshot in a `level` database. Reads are served from memory (a
 * `MemoryStorage` loaded at open); every write is ONE atomic batch with `sync: true`, applied to
 * memory only once it is durable. So a crash between batches loses nothing a batch reported, and
 * never leaves half of one. The one exception is a Ready that only moves the commit index
 * (etcd's `MustSync` is false for it): it costs no write at all, and the hard state rides along
 * with the next batch, or the close. A crash may take back such commit moves, which is safe —
 * Raft learns the commit index again from the leader — and the stored commit never falls behind
 * the stored snapshot, since every batch, a snapshot's too, carries the latest hard state.
 */
export class LevelRaftStorage implements RaftStorage {
  private constructor (private readonly db: ClassicLevel<Uint8Array, Uint8Array>, private readonly memory: MemoryStorage) {}

  /** Opens (or creates) the store at `path` and loads it. */
  static async open (path: string): Promise<LevelRaftStorage> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    try {
      await db.open()
      const [hardState, snapshot, offset] = await db.getMany([hardStateKey, snapshotKey, offsetKey])
      const empty = new MemoryStorage()
      const loadedSnapshot = snapshot === undefined ? empty.snapshot() : raftCodec.decodeSnapshot(snapshot)
      const { index: offsetIndex, term: offsetTerm } = offset === undefined ? { index: 0, term: 0 } : raftCodec.decodeOffset(offset)
      const entries: Entry[] = []
      for await (const value of db.values({ gte: entryKey(offsetIndex + 1), lt: Buffer.of(entryPrefix + 1) })) entries.push(raftCodec.decodeEntry(value))
      const memory = MemoryStorage.restore({
        hardState: hardState === undefined ? empty.savedHardState() : raftCodec.decodeHardState(hardState),
        snapshot: loadedSnapshot,
        offsetIndex,
        offsetTerm,
        entries
      })
      return new LevelRaftStorage(db, memory)
    } catch (error) {
      await db.close().catch(() => {})
      throw new RaftStorageError(`cannot open the raft log at ${path}`, { cause: error })
    }
  }

  initialState (): ReturnType<RaftStorage['initialState']> { return this.memory.initialState() }
  entries (lo: number, hi: number, maxBytes: number): Entry[] { return this.memory.entries(lo, hi, maxBytes) }
  term (index: number): number { return this.memory.term(index) }
  firstIndex (): number { return this.memory.firstIndex() }
  lastIndex (): number { return this.memory.lastIndex() }
  snapshot (): Snapshot { return this.memory.snapshot() }

  /**
   * Makes one Ready's durable part durable: snapshot, entries (deleting any stored entries past the
   * last new one, the conflicting tail) and hard state, in one synced batch.
   */
  async save (write: DurableWrite): Promise<void> {
    await this.serialize(async () => { await this.saveNow(write) })
  }

  private async saveNow (write: DurableWrite): Promise<void> {
    if (!mustSync(write, this.memory.savedHardState())) {
      this.memory.save(write)
      if (write.hardState !== undefined) this.hardStateBehind = true
      return
    }
    const operations: Operation[] = []
    let firstStored = this.memory.firstIndex()
    let lastStored = this.memory.lastIndex()
    if (write.snapshot !== undefined && write.snapshot.metadata.index > this.memory.snapshot().metadata.index) {
      // Installing a snapshot replaces the whole log.
      for (let index = firstStored; index <= lastStored; index++) operations.push({ type: 'del', key: entryKey(index) })
      operations.push({ type: 'put', key: snapshotKey, value: raftCodec.encodeSnapshot(write.snapshot) })
      operations.push({ type: 'put', key: offsetKey, value: raftCodec.encodeOffset(write.snapshot.metadata.index, write.snapshot.metadata.term) })
      firstStored = write.snapshot.metadata.index + 1
      lastStored = write.snapshot.metadata.index
    }
    const fresh = write.entries.filter(entry => entry.index >= firstStored)
    for (const entry of fresh) operations.push({ type: 'put', key: entryKey(entry.index), value: raftCodec.encodeEntry(entry) })
    const lastNew = fresh[fresh.length - 1]
    if (lastNew !== undefined) for (let index = lastNew.index + 1; index <= lastStored; index++) operations.push({ type: 'del', key: entryKey(index) })
    if (write.hardState !== undefined) operations.push({ type: 'put', key: hardStateKey, value: raftCodec.encodeHardState(write.hardState) })
    await this.commit(operations)
    this.memory.save(write)
  }

  /** Records the application's state at `index`, which it has applied, as the latest snapshot (durably). */
  async createSnapshot (index: number, conf: ConfState, data: Uint8Array): Promise<Snapshot> {
    return await this.serialize(async () => await this.createSnapshotNow(index, conf, data))
  }

  private async createSnapshotNow (index: number, conf: ConfState, data: Uint8Array): Promise<Snapshot> {
    const current = this.memory.snapshot()
    if (index === current.metadata.index) return current
    assert(index > current.metadata.index, 'a snapshot cannot go back', { index, snapshot: current.metadata.index })
    const snapshot: Snapshot = { metadata: { index, term: this.memory.term(index), conf }, data }
    await this.commit([{ type: 'put', key: snapshotKey, value: raftCodec.encodeSnapshot(snapshot) }])
    return this.memory.createSnapshot(index, conf, data)
  }

  /** Drops the stored log up to `index`, which the latest snapshot must cover (durably). */
  async compact (index: number): Promise<void> {
    await this.serialize(async () => { await this.compactNow(index) })
  }

  private async compactNow (index: number): Promise<void> {
    const { index: offsetIndex } = this.memory.offset()
    if (index <= offsetIndex) return
    assert(index <= this.memory.snapshot().metadata.index, 'compacting past the snapshot would lose entries', { index })
    const operations: Operation[] = []
    for (let i = offsetIndex + 1; i <= index; i++) operations.push({ type: 'del', key: entryKey(i) })
    operations.push({ type: 'put', key: offsetKey, value: raftCodec.encodeOffset(index, this.memory.term(index)) })
    await this.commit(operations)
    this.memory.compact(index)
  }

  async close (): Promise<void> {
    await this.serialize(async () => {
      await this.commit([])
      await this.db.close()
    })
  }

  /**
   * Runs writes one at a time, in call order: each plans its batch from the memory state the
   * previous one left, so two overlapping writes could otherwise undo each other.
   */
  private serialize<T> (work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work)
    this.tail = result.catch(() => {})
    return result
  }

  private tail: Promise<unknown> = Promise.resolve()
  /** The hard state in memory moved (its commit index only) since the last batch. */
  private hardStateBehind = false

  /** Writes one synced batch, with the hard state when it is behind and the batch lacks it. */
  private async commit (operations: Operation[]): Promise<void> {
    if (this.hardStateBehind && !operations.some(operation => operation.key === hardStateKey)) {
      operations = [...operations, { type: 'put', key: hardStateKey, value: raftCodec.encodeHardState(this.memory.savedHardState()) }]
    }
    if (operations.length === 0) return
    try {
      await this.db.batch(operations, { sync: true })
      this.hardStateBehind = false
    } catch (error) {
      throw new RaftStorageError('cannot persist raft state', { cause: error })
    }
  }
}
