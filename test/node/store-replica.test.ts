import { join } from 'node:path'
import test from 'ava'
import type { NodeId } from '../../src/lib/ids.js'
import { silentLogger } from '../../src/lib/logger.js'
import { LevelRaftStorage } from '../../src/node/raft-storage.js'
import { StoreReplica } from '../../src/node/store-replica.js'
import { tempDir } from '../helpers/temp-dir.js'

async function detachedReplica (t: Parameters<typeof tempDir>[0]): Promise<StoreReplica> {
  const storage = await LevelRaftStorage.open(join(tempDir(t), 'raft'))
  t.teardown(async () => { await storage.close() })
  const replica = new StoreReplica({ id: 'n1' as NodeId, storage, electionTimeoutMs: 1000, logger: silentLogger, nowMs: () => performance.now() })
  replica.detach()
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
