import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import type { NodeId } from '../../src/lib/ids.js'
import { MemoryLogger, silentLogger, type Logger, type LogRecord } from '../../src/lib/logger.js'
import { SeededRng } from '../../src/lib/rng.js'
import { RaftDriver } from '../../src/node/raft-driver.js'
import { LevelRaftStorage } from '../../src/node/raft-storage.js'
import { storeCodec } from '../../src/node/store-codec.js'
import { replicaLimits, StoreReplica } from '../../src/node/store-replica.js'
import { galaxy } from '../../src/proto/gen/store.js'
import type { Entry } from '../../src/raft/types.js'
import { StoreStateMachine } from '../../src/store/state-machine.js'
import { collectGarbage } from '../helpers/collect-garbage.js'
import { tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait-for.js'

async function detachedReplica (t: Parameters<typeof tempDir>[0]): Promise<StoreReplica> {
  const storage = await LevelRaftStorage.open(join(tempDir(t), 'raft'))
  t.teardown(async () => { await storage.close() })
  const replica = new StoreReplica({ id: 'n1' as NodeId, storage, electionTimeoutMs: 1000, logger: silentLogger, nowMs: () => performance.now() }, await storage.readSnapshot())
  await replica.detach()
  return replica
}

// A watch loops on nextApply: on a stopped replica it used to return at once, and every watch
// still open while a node stopped spun on it (millions of turns, seconds of a core).
test('a stopped replica has no next apply: waiting for one sleeps until the timeout or the signal', async t => {
  const replica = await detachedReplica(t)
  let started = performance.now()
  await replica.nextApply(150)
  t.true(performance.now() - started >= 140, `returned after ${(performance.now() - started).toFixed(0)} ms`)

  const controller = new AbortController()
  setTimeout(() => { controller.abort() }, 30)
  started = performance.now()
  await replica.nextApply(10_000, controller.signal)
  t.true(performance.now() - started < 2000)
})

/** A replica of one of three voters whose messages reach nobody: it never learns of a leader. */
async function cutOffReplica (t: ExecutionContext): Promise<StoreReplica> {
  const storage = await LevelRaftStorage.open(join(tempDir(t), 'raft'))
  const entries: Entry[] = ['n1', 'n2', 'n3'].map((node, i) => ({ term: 1, index: i + 1, type: 'confChange', change: { type: 'addVoter', node: node as NodeId } }))
  await storage.save({ entries, hardState: { term: 1, vote: null, commit: entries.length } })
  const replica = new StoreReplica({ id: 'n1' as NodeId, storage, electionTimeoutMs: 50, logger: silentLogger, nowMs: () => performance.now() }, await storage.readSnapshot())
  const driver = new RaftDriver({ id: 'n1' as NodeId, storage, applied: 0, tickMs: 5, electionTicks: 10, send: () => {}, application: replica, rng: new SeededRng(1), logger: silentLogger, onFailure: error => { t.fail(error.message) } })
  replica.attach(driver)
  driver.start()
  t.teardown(async () => { await replica.detach(); await driver.stop(); await storage.close() })
  return replica
}

/** How long `promise` took to reject, and its error's code. */
async function rejection (promise: Promise<unknown>): Promise<{ code: string | undefined, ms: number }> {
  const started = performance.now()
  try {
    await promise
  } catch (error) {
    return { code: (error as { code?: string }).code, ms: performance.now() - started }
  }
  throw new Error('it did not reject')
}

test('a linearizable read on a member cut off from its quorum ends as soon as its caller\'s signal aborts', async t => {
  const replica = await cutOffReplica(t)
  const controller = new AbortController()
  setTimeout(() => { controller.abort() }, 100)
  const { code, ms } = await rejection(replica.readBarrier(10_000, controller.signal))
  t.is(code, 'ERR_CANCELLED')
  t.true(ms < 2000, `ended ${ms.toFixed(0)} ms after the read began`)
})

test('detaching a replica ends its waiting reads and commands at once, not at their deadlines', async t => {
  const replica = await cutOffReplica(t)
  const read = rejection(replica.readBarrier(10_000))
  const write = rejection(replica.execute({ type: 'txn', compares: [], success: [{ type: 'put', key: 'k', value: new Uint8Array([1]) }], failure: [] }, 10_000))
  setTimeout(() => { void replica.detach() }, 100)
  for (const { code, ms } of [await read, await write]) {
    t.is(code, 'ERR_STOPPED')
    t.true(ms < 2000, `ended ${ms.toFixed(0)} ms after it began`)
  }
})

/** A replica of one voter with no driver, snapshotting every `at` entries, and a way to apply puts of `k<index % keys>` to it. */
async function snapshottingReplica (t: ExecutionContext, at: number, keys: number, logger: Logger = silentLogger): Promise<{ path: string, storage: LevelRaftStorage, replica: StoreReplica, apply: (from: number, to: number) => Promise<void> }> {
  const path = join(tempDir(t), 'raft')
  const storage = await LevelRaftStorage.open(path)
  t.teardown(async () => { await storage.close() })
  const replica = new StoreReplica({ id: 'n1' as NodeId, storage, electionTimeoutMs: 1000, logger, nowMs: () => performance.now(), snapshotEveryEntries: at }, await storage.readSnapshot())
  const conf = { voters: ['n1' as NodeId], learners: [] }
  const put = (index: number): Entry => ({
    term: 1,
    index,
    type: 'normal',
    data: storeCodec.encodeCommand({ client: 'c', sequence: index, command: { type: 'txn', compares: [], success: [{ type: 'put', key: `k${index % keys}`, value: new TextEncoder().encode(`${index}`) }], failure: [] } })
  })
  const apply = async (from: number, to: number): Promise<void> => {
    const entries = Array.from({ length: to - from + 1 }, (_, i) => put(from + i))
    await storage.save({ entries, hardState: { term: 1, vote: 'n1' as NodeId, commit: to } })
    replica.applyEntries(entries, conf)
  }
  return { path, storage, replica, apply }
}

test('a snapshot is encoded in parts while applying goes on, and holds the state at its index', async t => {
  t.timeout(60_000)
  // Enough entries for more than one part (100 keys and an event per entry).
  const at = 2 * replicaLimits.snapshotPartItems
  const { storage, replica, apply } = await snapshottingReplica(t, at, 100)
  await apply(1, at)
  // The snapshot of `at` is being encoded: the replica goes on applying meanwhile.
  await apply(at + 1, at + 50)
  t.is(replica.state.revision, at + 50)
  await waitFor('the snapshot', async () => storage.snapshotMetadata().index === at, 30_000, 20)
  const { data } = await storage.readSnapshot()
  t.true((galaxy.StoreData.decode(data).parts ?? []).length > 1, 'written in parts')
  const snapshot = StoreStateMachine.fromData(storeCodec.decodeData(data))
  t.is(snapshot.toData().kv.revision, at)
  for (const key of [0, 1, 50, 99]) {
    const last = at - ((at - key) % 100)
    t.is(new TextDecoder().decode(snapshot.get(`k${key}`)?.value), `${last}`, `k${key}`)
  }
})

test('a replica started from a snapshot keeps the state decoded from it, not its bytes', async t => {
  t.timeout(60_000)
  const { path, storage, replica, apply } = await snapshottingReplica(t, 200, 100)
  await apply(1, 200)
  await waitFor('the snapshot', async () => storage.snapshotMetadata().index === 200, 30_000, 20)
  await replica.detach()
  await storage.close()
  const reopened = await LevelRaftStorage.open(path)
  t.teardown(async () => { await reopened.close() })
  const restarted = new StoreReplica({ id: 'n1' as NodeId, storage: reopened, electionTimeoutMs: 1000, logger: silentLogger, nowMs: () => performance.now() }, await reopened.readSnapshot())
  t.is(restarted.state.revision, 200)
  await collectGarbage()
  t.is(reopened.snapshot(), undefined, 'the snapshot\'s data was collected: it is being read back')
})

test('detaching abandons a snapshot being encoded: nothing is written to the storage after it', async t => {
  t.timeout(60_000)
  const records: LogRecord[] = []
  // 20,000 keys take many paced parts to encode.
  const { path, storage, replica, apply } = await snapshottingReplica(t, 20_000, 20_000, new MemoryLogger(records))
  await apply(1, 20_000)
  await replica.detach()
  await storage.close()
  const files = (): string[] => { try { return readdirSync(`${path}.snapshots`) } catch { return [] } }
  const before = files()
  await new Promise(resolve => setTimeout(resolve, 1500))
  t.deepEqual(files(), before, 'no snapshot file written after the storage closed')
  t.deepEqual(records.filter(record => record.level === 'error'), [])
})

test('a watch\'s wait ends only for an event under its prefix: writes elsewhere do not wake it', async t => {
  const storage = await LevelRaftStorage.open(join(tempDir(t), 'raft'))
  t.teardown(async () => { await storage.close() })
  const replica = new StoreReplica({ id: 'n1' as NodeId, storage, electionTimeoutMs: 1000, logger: silentLogger, nowMs: () => performance.now() }, await storage.readSnapshot())
  const conf = { voters: ['n1' as NodeId], learners: [] }
  const put = (index: number, key: string): Entry => ({
    term: 1,
    index,
    type: 'normal',
    data: storeCodec.encodeCommand({ client: 'c', sequence: index, command: { type: 'txn', compares: [], success: [{ type: 'put', key, value: new Uint8Array([index]) }], failure: [] } })
  })
  replica.applyEntries([put(1, 'jobs/a')], conf)
  // An event already there ends the wait at once.
  let started = performance.now()
  await replica.nextChange('jobs/', 1, 10_000)
  t.true(performance.now() - started < 1000)

  let woken = false
  const waiting = replica.nextChange('jobs/', 2, 10_000).then(() => { woken = true })
  for (let index = 2; index <= 6; index++) replica.applyEntries([put(index, `other/${index}`)], conf)
  await new Promise(resolve => setTimeout(resolve, 50))
  t.false(woken, 'five writes to other keys did not end the wait')
  started = performance.now()
  replica.applyEntries([put(7, 'jobs/b')], conf)
  await waiting
  t.true(woken)
  t.true(performance.now() - started < 1000)
  // Without a change it ends at its timeout.
  started = performance.now()
  await replica.nextChange('jobs/', 8, 100)
  t.true(performance.now() - started >= 90)
})
