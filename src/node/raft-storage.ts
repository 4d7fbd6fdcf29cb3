import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { assert } from '../lib/assert.js'
import { GalaxyError } from '../lib/errors.js'
import { silentLogger, type Logger } from '../lib/logger.js'
import { emptySnapshot, MemoryStorage, type DurableWrite, type RaftStorage } from '../raft/storage.js'
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from '../raft/types.js'
import { replaceFileDurably } from '../runtime/host/durable-file.js'
import { ByteArena } from './byte-arena.js'
import { raftCodec } from './raft-codec.js'
import { SnapshotData } from './snapshot-data.js'

/** Stored Raft state could not be read or written. */
export class RaftStorageError extends GalaxyError {
  static readonly code = 'ERR_RAFT_STORAGE'

  constructor (message: string, options?: { cause?: unknown }) {
    super(RaftStorageError.code, message, options)
  }
}

type Operation = { type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }

const hardStateKey = Buffer.of(0x68) // 'h'
/** A snapshot kept whole in the database (as stores written before snapshot files hold it). */
const inlineSnapshotKey = Buffer.of(0x73) // 's'
/** The latest snapshot's metadata; its data is the file `snapshotFileName(index)`. */
const snapshotMetadataKey = Buffer.of(0x53) // 'S'
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

/** The name of the file that holds the data of the snapshot at `index`. */
function snapshotFileName (index: number): string {
  return `snapshot-${index.toString().padStart(16, '0')}`
}

/** The batch operations that record a snapshot whose data is in its file. */
function snapshotRecord (metadata: Snapshot['metadata']): Operation[] {
  return [
    { type: 'put', key: snapshotMetadataKey, value: raftCodec.encodeSnapshot({ metadata, data: new Uint8Array() }) },
    { type: 'del', key: inlineSnapshotKey }
  ]
}

/** A snapshot as the log keeps it in memory: its metadata only (its data is in `SnapshotData`). */
function withoutData (snapshot: Snapshot): Snapshot {
  return { metadata: snapshot.metadata, data: emptySnapshot.data }
}

/** The entry as the log keeps it in memory: its data copied into the arena. */
function packed (entry: Entry, arena: ByteArena): Entry {
  return entry.type === 'normal' ? { ...entry, data: arena.copy(entry.data) } : entry
}

/** Removes every snapshot file but the one of `keep` (and leftovers of unfinished writes). */
async function removeSnapshotFiles (directory: string, keep: number): Promise<void> {
  const names = await readdir(directory).catch(() => [] as string[])
  for (const name of names) {
    if (name.startsWith('snapshot-') && name !== snapshotFileName(keep)) await rm(join(directory, name), { force: true })
  }
}

/**
 * The Raft log and hard state in a `level` database, the latest snapshot's data in a file beside
 * it (`<path>.snapshots/`, recorded in the database once the file is durable). Reads are served
 * from memory (a `MemoryStorage` loaded at open), but for the snapshot's data, which is read from
 * its file when wanted and kept only while in use (`SnapshotData`); every write is ONE atomic batch with
 * `sync: true`, applied to memory only once it is durable. So a crash between batches loses
 * nothing a batch reported, and never leaves half of one. Two exceptions, both safe to lose: a
 * Ready that only moves the commit index (etcd's `MustSync` is false for it) costs no write at all
 * — the hard state rides along with the next batch, or the close, and Raft learns the commit index
 * again from the leader — and compaction: moving the log's start is not synced, and the entries
 * before it, which are never read again, are deleted afterwards. The stored commit never
 * falls behind the stored snapshot, since every batch, a snapshot's record too, carries the latest
 * hard state, and LevelDB's log keeps batches in order.
 */
export class LevelRaftStorage implements RaftStorage {
  private constructor (
    private readonly db: ClassicLevel<Uint8Array, Uint8Array>,
    private readonly memory: MemoryStorage,
    /** The directory of snapshot files, next to the database. */
    private readonly snapshots: string,
    /** Where the entries kept in memory hold their bytes: they are dropped in order, at compaction. */
    private readonly arena: ByteArena,
    /** The latest snapshot was written by an older galaxy: whole, in the database. */
    private inlineSnapshot: boolean,
    logger: Logger
  ) {
    this.data = new SnapshotData(async index => await this.readSnapshotData(index), (index, error) => {
      logger.error('cannot read a snapshot', { index, error: (error as Error).message })
    })
  }

  /** The latest snapshot's data, while something holds it. */
  private readonly data: SnapshotData

  /** Opens (or creates) the store at `path` and loads it (the latest snapshot's metadata, not its data). */
  static async open (path: string, { logger = silentLogger }: { logger?: Logger } = {}): Promise<LevelRaftStorage> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    const snapshots = `${path}.snapshots`
    try {
      await db.open()
      const [hardState, inlineSnapshot, snapshotMetadata, offset] = await db.getMany([hardStateKey, inlineSnapshotKey, snapshotMetadataKey, offsetKey])
      const empty = new MemoryStorage()
      const recorded = snapshotMetadata ?? inlineSnapshot
      const loadedSnapshot = recorded === undefined ? emptySnapshot : withoutData(raftCodec.decodeSnapshot(recorded))
      // Files of snapshots that were never recorded (a crash between the file and its record), or replaced.
      await removeSnapshotFiles(snapshots, loadedSnapshot.metadata.index)
      const { index: offsetIndex, term: offsetTerm } = offset === undefined ? { index: 0, term: 0 } : raftCodec.decodeOffset(offset)
      const arena = new ByteArena()
      const entries: Entry[] = []
      for await (const value of db.values({ gte: entryKey(offsetIndex + 1), lt: Buffer.of(entryPrefix + 1) })) entries.push(packed(raftCodec.decodeEntry(value), arena))
      const memory = MemoryStorage.restore({
        hardState: hardState === undefined ? empty.savedHardState() : raftCodec.decodeHardState(hardState),
        snapshot: loadedSnapshot,
        offsetIndex,
        offsetTerm,
        entries
      })
      return new LevelRaftStorage(db, memory, snapshots, arena, snapshotMetadata === undefined && inlineSnapshot !== undefined, logger)
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
  snapshotMetadata (): SnapshotMetadata { return this.memory.snapshotMetadata() }

  snapshot (): Snapshot | undefined {
    const metadata = this.memory.snapshotMetadata()
    if (metadata.index === 0) return emptySnapshot
    const data = this.data.get(metadata.index)
    return data === undefined ? undefined : { metadata, data }
  }

  /** The latest snapshot with its data, read from disk: what a replica starts from. */
  async readSnapshot (): Promise<Snapshot> {
    const metadata = this.memory.snapshotMetadata()
    if (metadata.index === 0) return emptySnapshot
    const data = await this.readSnapshotData(metadata.index)
    this.data.remember(metadata.index, data)
    return { metadata, data }
  }

  private async readSnapshotData (index: number): Promise<Uint8Array> {
    try {
      if (this.inlineSnapshot) return raftCodec.decodeSnapshot(await this.db.get(inlineSnapshotKey) ?? new Uint8Array()).data
      const file = await readFile(join(this.snapshots, snapshotFileName(index)))
      return new Uint8Array(file.buffer, file.byteOffset, file.byteLength)
    } catch (error) {
      throw new RaftStorageError(`cannot read the snapshot at ${index}`, { cause: error })
    }
  }

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
    const installing = write.snapshot !== undefined && write.snapshot.metadata.index > this.memory.snapshotMetadata().index ? write.snapshot : undefined
    if (installing !== undefined) {
      // Installing a snapshot replaces the whole log.
      await this.writeSnapshotFile(installing.metadata.index, installing.data)
      for (let index = firstStored; index <= lastStored; index++) operations.push({ type: 'del', key: entryKey(index) })
      operations.push(...snapshotRecord(installing.metadata))
      operations.push({ type: 'put', key: offsetKey, value: raftCodec.encodeOffset(installing.metadata.index, installing.metadata.term) })
      firstStored = installing.metadata.index + 1
      lastStored = installing.metadata.index
    }
    const fresh = write.entries.filter(entry => entry.index >= firstStored)
    for (const entry of fresh) operations.push({ type: 'put', key: entryKey(entry.index), value: raftCodec.encodeEntry(entry) })
    const lastNew = fresh[fresh.length - 1]
    if (lastNew !== undefined) for (let index = lastNew.index + 1; index <= lastStored; index++) operations.push({ type: 'del', key: entryKey(index) })
    if (write.hardState !== undefined) operations.push({ type: 'put', key: hardStateKey, value: raftCodec.encodeHardState(write.hardState) })
    await this.commit(operations)
    this.memory.save({ ...write, snapshot: installing === undefined ? undefined : withoutData(installing), entries: write.entries.map(entry => packed(entry, this.arena)) })
    if (installing !== undefined) {
      this.inlineSnapshot = false
      this.data.remember(installing.metadata.index, installing.data)
      await removeSnapshotFiles(this.snapshots, installing.metadata.index)
    }
  }

  /**
   * Records the application's state at `index`, which it has applied, as the latest snapshot
   * (durably). The data goes to a file of its own first, while the log goes on being written; only
   * its small record then waits its turn among the log's batches. A snapshot no newer than the
   * latest (a leader's was installed meanwhile) is dropped. Answers the latest snapshot's metadata.
   */
  async createSnapshot (index: number, conf: ConfState, data: Uint8Array): Promise<SnapshotMetadata> {
    if (index <= this.memory.snapshotMetadata().index) return this.memory.snapshotMetadata()
    await this.writeSnapshotFile(index, data)
    return await this.serialize(async () => {
      const current = this.memory.snapshotMetadata()
      if (index <= current.index) {
        await rm(join(this.snapshots, snapshotFileName(index)), { force: true })
        return current
      }
      const metadata = { index, term: this.memory.term(index), conf }
      await this.commit(snapshotRecord(metadata))
      this.memory.createSnapshot(index, conf, emptySnapshot.data)
      this.inlineSnapshot = false
      this.data.remember(index, data)
      await removeSnapshotFiles(this.snapshots, index)
      return metadata
    })
  }

  /** Writes a snapshot's data to its file, durably. */
  private async writeSnapshotFile (index: number, data: Uint8Array): Promise<void> {
    try {
      await mkdir(this.snapshots, { recursive: true })
      await replaceFileDurably(join(this.snapshots, snapshotFileName(index)), data)
    } catch (error) {
      throw new RaftStorageError('cannot write a snapshot file', { cause: error })
    }
  }

  /**
   * Drops the stored log up to `index`, which the latest snapshot must cover (durably). The log's
   * new start is one small batch among the log's writes; from then on nothing below it is read,
   * so the entries below it are deleted afterwards, in the background and in LevelDB's own small
   * batches, instead of in one batch of a hundred thousand deletes that the log's next writes
   * would wait behind.
   */
  async compact (index: number): Promise<void> {
    if (!await this.serialize(async () => await this.moveOffset(index))) return
    const cleared = this.clearing.then(async () => { await this.db.clear({ gte: entryKey(0), lte: entryKey(index) }) })
    this.clearing = cleared.catch(() => {})
    try {
      await cleared
    } catch (error) {
      throw new RaftStorageError('cannot delete compacted raft entries', { cause: error })
    }
  }

  /** Records `index` as the log's new start; false when the log already starts after it. */
  private async moveOffset (index: number): Promise<boolean> {
    const { index: offsetIndex } = this.memory.offset()
    if (index <= offsetIndex) return false
    assert(index <= this.memory.snapshotMetadata().index, 'compacting past the snapshot would lose entries', { index })
    // Not synced: a crash may bring back the old start, and with it entries kept a little longer.
    // (A later synced batch makes it durable, as LevelDB's log keeps batches in order; and a
    // delete below it can only survive a crash if it does.)
    await this.commit([{ type: 'put', key: offsetKey, value: raftCodec.encodeOffset(index, this.memory.term(index)) }], { sync: false })
    this.memory.compact(index)
    return true
  }

  async close (): Promise<void> {
    await this.clearing
    await this.data.settled()
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
    // With nothing queued the write starts now, so its sync is under way when the caller goes on
    // (the driver applies committed entries meanwhile).
    this.queued++
    const result = this.queued === 1 ? work() : this.tail.then(work, work)
    const done = (): void => { this.queued-- }
    this.tail = result.then(done, done)
    return result
  }

  private tail: Promise<unknown> = Promise.resolve()
  /** Writes started or waiting in `serialize`. */
  private queued = 0
  /** Deleting compacted entries, one range after another. */
  private clearing: Promise<void> = Promise.resolve()
  /** The hard state in memory moved (its commit index only) since the last batch. */
  private hardStateBehind = false

  /** Writes one batch, synced unless told, with the hard state when it is behind and the batch lacks it. */
  private async commit (operations: Operation[], { sync } = { sync: true }): Promise<void> {
    if (this.hardStateBehind && !operations.some(operation => operation.key === hardStateKey)) {
      operations = [...operations, { type: 'put', key: hardStateKey, value: raftCodec.encodeHardState(this.memory.savedHardState()) }]
    }
    if (operations.length === 0) return
    try {
      await this.db.batch(operations, { sync })
      this.hardStateBehind = false
    } catch (error) {
      throw new RaftStorageError('cannot persist raft state', { cause: error })
    }
  }
}
