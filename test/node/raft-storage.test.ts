import { spawn } from 'node:child_process'
import { cpSync, existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { ClassicLevel } from 'classic-level'
import type { NodeId } from '../../src/lib/ids.js'
import { raftCodec } from '../../src/node/raft-codec.js'
import { LevelRaftStorage, mustSync } from '../../src/node/raft-storage.js'
import { MemoryStorage } from '../../src/raft/storage.js'
import type { Entry, Snapshot } from '../../src/raft/types.js'
import { collectGarbage } from '../helpers/collect-garbage.js'
import { tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait-for.js'
import { scriptConf, scriptStep, snapshotData } from './fixtures/storage-script.js'

const entry = (term: number, index: number, text: string): Entry => ({ term, index, type: 'normal', data: new TextEncoder().encode(text) })

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/** What the contents of a storage are read from: the level-backed one reads its snapshot's data from disk. */
interface Readable {
  firstIndex(): number
  lastIndex(): number
  entries(lo: number, hi: number, max: number): Entry[]
  initialState(): { hardState: unknown }
  readSnapshot(): Promise<Snapshot>
}

/** The in-memory model, read like the level-backed storage. */
const readable = (model: MemoryStorage): Readable => ({
  firstIndex: () => model.firstIndex(),
  lastIndex: () => model.lastIndex(),
  entries: (lo, hi, max) => model.entries(lo, hi, max),
  initialState: () => model.initialState(),
  readSnapshot: async () => model.snapshot()
})

/** Everything a storage holds, as plain data (bytes as hex), to compare two of them. */
async function contents (storage: Readable): Promise<unknown> {
  const first = storage.firstIndex()
  const last = storage.lastIndex()
  const snapshot = await storage.readSnapshot()
  return {
    hardState: storage.initialState().hardState,
    snapshot: { metadata: snapshot.metadata, data: hex(snapshot.data) },
    first,
    entries: (last >= first ? storage.entries(first, last + 1, Infinity) : []).map(e => e.type === 'normal' ? { ...e, data: hex(e.data) } : e)
  }
}

test('a write must be synced unless all it does is move the commit index', t => {
  const saved = { term: 3, vote: 'b' as NodeId, commit: 10 }
  t.false(mustSync({ entries: [], hardState: { ...saved, commit: 11 } }, saved))
  t.false(mustSync({ entries: [] }, saved))
  t.true(mustSync({ entries: [entry(3, 11, 'x')], hardState: { ...saved, commit: 11 } }, saved))
  t.true(mustSync({ entries: [], hardState: { ...saved, term: 4, vote: null } }, saved))
  t.true(mustSync({ entries: [], hardState: { ...saved, vote: 'c' as NodeId } }, saved))
  t.true(mustSync({ entries: [], snapshot: { metadata: { index: 12, term: 3, conf: { voters: [], learners: [] } }, data: new Uint8Array() } }, saved))
})

test('a commit move costs no write of its own: the next batch, a snapshot or the close carries it', async t => {
  const dir = tempDir(t)
  const path = join(dir, 'raft')
  // What a crash would leave: the files as they are now (LevelDB writes its log with write(2)).
  const crashCopy = async (name: string): Promise<{ commit: number, snapshot: number }> => {
    cpSync(path, join(dir, name), { recursive: true })
    if (existsSync(`${path}.snapshots`)) cpSync(`${path}.snapshots`, join(dir, `${name}.snapshots`), { recursive: true })
    const copy = await LevelRaftStorage.open(join(dir, name))
    const seen = { commit: copy.initialState().hardState.commit, snapshot: copy.snapshotMetadata().index }
    await copy.close()
    return seen
  }
  const storage = await LevelRaftStorage.open(path)
  const hardState = { term: 1, vote: 'n1' as NodeId, commit: 1 }
  await storage.save({ entries: [1, 2, 3, 4, 5].map(i => entry(1, i, `e${i}`)), hardState })
  await storage.save({ entries: [], hardState: { ...hardState, commit: 3 } })
  t.is(storage.initialState().hardState.commit, 3)
  t.deepEqual(await crashCopy('after-commit-move'), { commit: 1, snapshot: 0 })
  await storage.save({ entries: [], hardState: { ...hardState, commit: 4 } })
  await storage.createSnapshot(4, scriptConf, snapshotData(4))
  t.deepEqual(await crashCopy('after-snapshot'), { commit: 4, snapshot: 4 })
  await storage.save({ entries: [entry(1, 6, 'e6')] })
  await storage.save({ entries: [], hardState: { ...hardState, commit: 6 } })
  await storage.close()
  const reopened = await LevelRaftStorage.open(path)
  t.deepEqual(reopened.initialState().hardState, { ...hardState, commit: 6 })
  t.is(reopened.lastIndex(), 6)
  await reopened.close()
})

test('a snapshot\'s data is a file of its own; files never recorded are removed at open, and an older snapshot is dropped', async t => {
  const path = join(tempDir(t), 'raft')
  const storage = await LevelRaftStorage.open(path)
  await storage.save({ entries: [1, 2, 3, 4, 5, 6].map(i => entry(1, i, `e${i}`)), hardState: { term: 1, vote: 'n1' as NodeId, commit: 6 } })
  await storage.createSnapshot(3, scriptConf, snapshotData(3))
  await storage.createSnapshot(5, scriptConf, snapshotData(5))
  t.deepEqual(readdirSync(`${path}.snapshots`), ['snapshot-0000000000000005'])
  // Older than the latest (as when a leader's snapshot was installed while this one was encoded).
  t.is((await storage.createSnapshot(4, scriptConf, snapshotData(4))).index, 5)
  t.deepEqual(readdirSync(`${path}.snapshots`), ['snapshot-0000000000000005'])
  await storage.close()
  // A crash after a file was written but before it was recorded leaves the file: it goes at open.
  writeFileSync(join(`${path}.snapshots`, 'snapshot-0000000000000006'), 'never recorded')
  writeFileSync(join(`${path}.snapshots`, 'snapshot-0000000000000007.tmp'), 'half written')
  const reopened = await LevelRaftStorage.open(path)
  t.deepEqual(await reopened.readSnapshot(), { metadata: { index: 5, term: 1, conf: scriptConf }, data: snapshotData(5) })
  t.deepEqual(readdirSync(`${path}.snapshots`), ['snapshot-0000000000000005'])
  await reopened.close()
})

test('a store whose snapshot is kept in the database (as before snapshot files) opens, and its next snapshot goes to a file', async t => {
  const path = join(tempDir(t), 'raft')
  const storage = await LevelRaftStorage.open(path)
  await storage.save({ entries: [1, 2, 3, 4].map(i => entry(1, i, `e${i}`)), hardState: { term: 1, vote: 'n1' as NodeId, commit: 4 } })
  await storage.close()
  // What an older galaxy wrote: the whole snapshot under 's', the log from 3 on.
  const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.batch([
    { type: 'put', key: Buffer.of(0x73), value: raftCodec.encodeSnapshot({ metadata: { index: 2, term: 1, conf: scriptConf }, data: snapshotData(2) }) },
    { type: 'put', key: Buffer.of(0x6f), value: raftCodec.encodeOffset(2, 1) },
    { type: 'del', key: Buffer.from('650000000000000001', 'hex') },
    { type: 'del', key: Buffer.from('650000000000000002', 'hex') }
  ])
  await db.close()
  const legacy = await LevelRaftStorage.open(path)
  const legacySnapshot = await legacy.readSnapshot()
  t.deepEqual(legacySnapshot.metadata, { index: 2, term: 1, conf: scriptConf })
  t.is(hex(legacySnapshot.data), hex(snapshotData(2)))
  t.is(legacy.firstIndex(), 3)
  await legacy.createSnapshot(4, scriptConf, snapshotData(4))
  await legacy.close()
  const current = await LevelRaftStorage.open(path)
  t.deepEqual(await current.readSnapshot(), { metadata: { index: 4, term: 1, conf: scriptConf }, data: snapshotData(4) })
  await current.close()
})

test('entries, hard state, a conflicting tail and a snapshot survive a reopen', async t => {
  const path = join(tempDir(t), 'raft')
  const storage = await LevelRaftStorage.open(path)
  await storage.save({ entries: [entry(1, 1, 'a'), entry(1, 2, 'b'), entry(1, 3, 'c')], hardState: { term: 1, vote: 'n1' as NodeId, commit: 1 } })
  // A new leader's entries replace the tail from index 2 on.
  await storage.save({ entries: [entry(2, 2, 'B')], hardState: { term: 2, vote: null, commit: 2 } })
  await storage.save({ entries: [{ term: 2, index: 3, type: 'confChange', change: { type: 'addLearner', node: 'n4' as NodeId } }] })
  const before = await contents(storage)
  await storage.close()
  const reopened = await LevelRaftStorage.open(path)
  t.deepEqual(await contents(reopened), before)
  t.is(reopened.lastIndex(), 3)
  t.deepEqual(await contents(reopened), before)
  t.like(reopened.entries(3, 4, Infinity)[0], { type: 'confChange', change: { type: 'addLearner', node: 'n4' } })
  t.deepEqual(reopened.initialState().hardState, { term: 2, vote: null, commit: 2 })

  await reopened.createSnapshot(2, scriptConf, snapshotData(2))
  await reopened.compact(1)
  await reopened.close()
  const compacted = await LevelRaftStorage.open(path)
  t.is(compacted.firstIndex(), 2)
  t.is(compacted.term(1), 1)
  const compactedSnapshot = await compacted.readSnapshot()
  t.deepEqual(compactedSnapshot.metadata, { index: 2, term: 2, conf: scriptConf })
  t.is(hex(compactedSnapshot.data), hex(snapshotData(2)))
  t.deepEqual(compacted.initialState().conf, scriptConf)
  await compacted.close()
})

test('the log kept in memory holds copies: the caller\'s buffers may change after a save', async t => {
  const storage = await LevelRaftStorage.open(join(tempDir(t), 'raft'))
  const written = [entry(1, 1, 'abc'), entry(1, 2, 'def')]
  await storage.save({ entries: written, hardState: { term: 1, vote: null, commit: 0 } })
  for (const each of written) if (each.type === 'normal') each.data.fill(0x7a)
  t.deepEqual(storage.entries(1, 3, Infinity).map(each => each.type === 'normal' ? Buffer.from(each.data).toString() : ''), ['abc', 'def'])
  await storage.close()
})

test('the snapshot\'s data is kept only while in use: once collected, it is read back from its file', async t => {
  const storage = await LevelRaftStorage.open(join(tempDir(t), 'raft'))
  t.teardown(async () => { await storage.close() })
  await storage.save({ entries: [1, 2, 3].map(i => entry(1, i, `e${i}`)), hardState: { term: 1, vote: null, commit: 3 } })
  await storage.createSnapshot(3, scriptConf, snapshotData(3))
  await collectGarbage()
  t.is(storage.snapshot(), undefined, 'not in memory: being read')
  t.deepEqual(storage.snapshotMetadata(), { index: 3, term: 1, conf: scriptConf })
  const snapshot = await waitFor('the data read back', async () => storage.snapshot(), 10_000, 5)
  t.deepEqual(snapshot.metadata, { index: 3, term: 1, conf: scriptConf })
  t.is(hex(snapshot.data), hex(snapshotData(3)))
})

/** The indexes of the entries a closed store's database holds. */
async function storedIndexes (path: string): Promise<number[]> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  const indexes: number[] = []
  for await (const key of db.keys({ gte: Buffer.of(0x65), lt: Buffer.of(0x66) })) indexes.push(Number(Buffer.from(key).readBigUInt64BE(1)))
  await db.close()
  return indexes
}

test('compaction deletes the entries before the new start, and entries a crash left below it are never read and go at the next one', async t => {
  const path = join(tempDir(t), 'raft')
  const storage = await LevelRaftStorage.open(path)
  await storage.save({ entries: Array.from({ length: 5000 }, (_, i) => entry(1, i + 1, `v${i + 1}`)), hardState: { term: 1, vote: null, commit: 5000 } })
  await storage.createSnapshot(4000, scriptConf, snapshotData(4000))
  await storage.compact(3000)
  t.is(storage.firstIndex(), 3001)
  await storage.close()
  t.deepEqual(await storedIndexes(path), Array.from({ length: 2000 }, (_, i) => 3001 + i))

  // As a crash between moving the start and deleting would leave them: entries below the start.
  const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  const stale = (index: number): Uint8Array => { const key = Buffer.alloc(9); key[0] = 0x65; key.writeBigUInt64BE(BigInt(index), 1); return key }
  await db.batch([10, 2999].map(index => ({ type: 'put' as const, key: stale(index), value: raftCodec.encodeEntry(entry(1, index, 'stale')) })))
  await db.close()
  const reopened = await LevelRaftStorage.open(path)
  t.is(reopened.firstIndex(), 3001)
  t.is(reopened.lastIndex(), 5000)
  await reopened.compact(3500)
  await reopened.close()
  t.deepEqual(await storedIndexes(path), Array.from({ length: 1500 }, (_, i) => 3501 + i))
})

test('installing a leader snapshot replaces the stored log', async t => {
  const path = join(tempDir(t), 'raft')
  const storage = await LevelRaftStorage.open(path)
  await storage.save({ entries: [entry(1, 1, 'a'), entry(1, 2, 'b')], hardState: { term: 1, vote: null, commit: 1 } })
  await storage.save({ entries: [], snapshot: { metadata: { index: 10, term: 3, conf: scriptConf }, data: snapshotData(10) }, hardState: { term: 3, vote: null, commit: 10 } })
  await storage.close()
  const reopened = await LevelRaftStorage.open(path)
  t.is(reopened.firstIndex(), 11)
  t.is(reopened.lastIndex(), 10)
  t.is(reopened.term(10), 3)
  await reopened.close()
})

test('a store that cannot be opened is one clear error', async t => {
  const dir = tempDir(t)
  const first = await LevelRaftStorage.open(join(dir, 'raft'))
  t.teardown(async () => { await first.close() })
  const error = await t.throwsAsync(LevelRaftStorage.open(join(dir, 'raft')))
  t.is((error as { code?: string })?.code, 'ERR_RAFT_STORAGE')
  t.regex(error?.message ?? '', /cannot open the raft log/)
})

/** Runs the writer from batch `from` until it reports batch `target`, kills it with SIGKILL, and returns the last batch it reported. */
async function writeThenKill (path: string, from: number, target: number, delayMs: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'storage-writer.ts'), path, String(from)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let reported = 0
  let buffer = ''
  const exited = new Promise(resolve => child.once('exit', resolve))
  await new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined = setTimeout(() => { reject(new Error(`writer reported only ${reported} batches`)) }, 60_000)
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const lines = buffer.split('\n')
      buffer = lines.pop() ?? ''
      for (const line of lines) reported = Number(line.split(' ')[1])
      if (reported >= target && timer !== undefined) {
        clearTimeout(timer)
        timer = undefined
        // A little later, so that the signal lands anywhere in a batch, not just after a report.
        setTimeout(() => { child.kill('SIGKILL'); resolve() }, delayMs)
      }
    })
    child.once('exit', () => { clearTimeout(timer); resolve() })
  })
  await exited
  return reported
}

test('a writer killed with SIGKILL between batches loses no synced batch and leaves no half batch', async t => {
  t.timeout(180_000)
  const path = join(tempDir(t), 'raft')
  // The same workload in memory: the state after every durable call (a save, and for snapshot
  // steps also createSnapshot and compact), and where each batch's last call ends.
  const states: string[] = []
  const batchEnd: number[] = [0]
  const model = new MemoryStorage()
  const record = async (): Promise<void> => { states.push(JSON.stringify(await contents(readable(model)))) }
  let commit = 0
  await record()
  for (let k = 1; k <= 2000; k++) {
    const step = scriptStep(k, model, commit)
    model.save(step.write)
    commit = step.write.hardState?.commit ?? commit
    await record()
    if (step.snapshotAt !== undefined) {
      model.createSnapshot(step.snapshotAt, scriptConf, snapshotData(step.snapshotAt))
      await record()
      model.compact(step.snapshotAt - 2)
      await record()
    }
    batchEnd.push(states.length - 1)
  }
  // Kill the writer eight times at different depths; each run resumes from what survived.
  let held = 0
  for (const [target, delayMs] of [[43, 0], [86, 1], [147, 2], [225, 3], [304, 1], [428, 4], [526, 2], [645, 5]] as const) {
    const reported = await writeThenKill(path, held + 1, target, delayMs)
    const storage = await LevelRaftStorage.open(path)
    const recovered = JSON.stringify(await contents(storage))
    await storage.close()
    // The store equals the state after some whole durable call, no earlier than the end of the
    // last batch reported (the writer may have gone further before the signal landed).
    const position = states.findIndex((state, i) => i >= (batchEnd[reported] as number) && state === recovered)
    t.not(position, -1, `after reporting batch ${reported}, the store matched no whole write at or after it`)
    const batch = batchEnd.findIndex(end => end >= position)
    t.log(`killed after batch ${reported} was reported; the store holds ${batchEnd[batch] === position ? `exactly batch ${batch}` : `part of snapshot step ${batch}, whole calls only`}`)
    // The writer can resume only after a whole batch: its next batch is planned from the store.
    if (batchEnd[batch] !== position) break
    held = batch
  }
})
