// The driver over a real level log: what is applied while a write syncs, and what waits for it.
import { join } from 'node:path'
import test from 'ava'
import type { NodeId } from '../../src/lib/ids.js'
import { silentLogger } from '../../src/lib/logger.js'
import { SeededRng } from '../../src/lib/rng.js'
import { RaftDriver, type RaftApplication } from '../../src/node/raft-driver.js'
import { LevelRaftStorage } from '../../src/node/raft-storage.js'
import type { DurableWrite } from '../../src/raft/storage.js'
import { tempDir } from '../helpers/temp-dir.js'

const id = 'n1' as NodeId

test('a single voter, which commits entries as it appends them, applies each only once its write is durable', async t => {
  const storage = await LevelRaftStorage.open(join(tempDir(t), 'raft'))
  // Bootstrapped as the first seed is: one voter, committed at term 1.
  await storage.save({ entries: [{ term: 1, index: 1, type: 'confChange', change: { type: 'addVoter', node: id } }], hardState: { term: 1, vote: null, commit: 1 } })
  const events: string[] = []
  const save = storage.save.bind(storage)
  storage.save = async (write: DurableWrite): Promise<void> => {
    const indexes = write.entries.map(entry => entry.index).join(',')
    await save(write)
    if (indexes !== '') events.push(`written ${indexes}`)
  }
  let leader = false
  const application: RaftApplication = {
    applySnapshot: () => {},
    applyEntries: entries => { for (const entry of entries) if (entry.type === 'normal' && entry.data.byteLength > 0) events.push(`applied ${entry.index}`) },
    readStates: () => {},
    softState: state => { leader = state.role === 'leader' }
  }
  const driver = new RaftDriver({ id, storage, applied: 0, tickMs: 5, electionTicks: 4, send: () => {}, application, rng: new SeededRng(1), logger: silentLogger, onFailure: error => { t.fail(error.message) } })
  driver.start()
  t.teardown(async () => { await driver.stop(); await storage.close() })
  for (let i = 0; i < 400 && !leader; i++) await new Promise(resolve => setTimeout(resolve, 5))
  t.true(leader, 'elected itself')
  for (let round = 0; round < 20; round++) {
    driver.propose(new TextEncoder().encode(`a${round}`))
    driver.propose(new TextEncoder().encode(`b${round}`))
    await new Promise(resolve => setImmediate(resolve))
  }
  for (let i = 0; i < 400 && events.filter(event => event.startsWith('applied')).length < 40; i++) await new Promise(resolve => setTimeout(resolve, 5))
  const applied = events.filter(event => event.startsWith('applied'))
  t.is(applied.length, 40)
  for (const event of applied) {
    const index = event.split(' ')[1] as string
    const written = events.findIndex(other => other.startsWith('written') && other.slice(8).split(',').includes(index))
    t.true(written >= 0 && written < events.indexOf(event), `entry ${index} applied before its write: ${events.join(' | ')}`)
  }
})
