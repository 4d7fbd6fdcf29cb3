// The driver over a real level log: what is applied while a write syncs, and what waits for it.
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import type { NodeId } from '../../src/lib/ids.js'
import { silentLogger } from '../../src/lib/logger.js'
import { SeededRng } from '../../src/lib/rng.js'
import { RaftDriver, type RaftApplication } from '../../src/node/raft-driver.js'
import { LevelRaftStorage } from '../../src/node/raft-storage.js'
import type { DurableWrite } from '../../src/raft/storage.js'
import type { Entry, Message } from '../../src/raft/types.js'
import { tempDir } from '../helpers/temp-dir.js'

const id = 'n1' as NodeId

/** How a test watches and feeds the driver that `electedDriver` starts. */
interface DriverProbe {
  /** Members besides `id` (a lone voter), bootstrapped as learners. */
  readonly learners?: readonly NodeId[]
  /** Each durable write goes through here, to be recorded before or after `save`. */
  readonly save: (write: DurableWrite, save: (write: DurableWrite) => Promise<void>) => Promise<void>
  readonly send?: (messages: readonly Message[], driver: RaftDriver) => void
  readonly applyEntries?: RaftApplication['applyEntries']
}

/** A driver over a real level log, bootstrapped as the first seed is (committed at term 1), once it has elected itself. */
async function electedDriver (t: ExecutionContext, probe: DriverProbe): Promise<RaftDriver> {
  const storage = await LevelRaftStorage.open(join(tempDir(t), 'raft'))
  const learners = probe.learners ?? []
  const entries: Entry[] = [{ term: 1, index: 1, type: 'confChange', change: { type: 'addVoter', node: id } }]
  for (const node of learners) entries.push({ term: 1, index: entries.length + 1, type: 'confChange', change: { type: 'addLearner', node } })
  await storage.save({ entries, hardState: { term: 1, vote: null, commit: entries.length } })
  const save = storage.save.bind(storage)
  storage.save = async (write: DurableWrite): Promise<void> => { await probe.save(write, save) }
  let leader = false
  const application: RaftApplication = {
    applySnapshot: () => {},
    applyEntries: probe.applyEntries ?? (() => {}),
    readStates: () => {},
    softState: state => { leader = state.role === 'leader' }
  }
  const send = (messages: readonly Message[]): void => { probe.send?.(messages, driver) }
  const driver = new RaftDriver({ id, storage, applied: 0, tickMs: 5, electionTicks: 4, send, application, rng: new SeededRng(1), logger: silentLogger, onFailure: error => { t.fail(error.message) } })
  driver.start()
  t.teardown(async () => { await driver.stop(); await storage.close() })
  for (let i = 0; i < 400 && !leader; i++) await new Promise(resolve => setTimeout(resolve, 5))
  t.true(leader, 'elected itself')
  return driver
}

test('a single voter, which commits entries as it appends them, applies each only once its write is durable', async t => {
  const events: string[] = []
  const driver = await electedDriver(t, {
    save: async (write, save) => {
      const indexes = write.entries.map(entry => entry.index).join(',')
      await save(write)
      if (indexes !== '') events.push(`written ${indexes}`)
    },
    applyEntries: entries => { for (const entry of entries) if (entry.type === 'normal' && entry.data.byteLength > 0) events.push(`applied ${entry.index}`) }
  })
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

test("a leader's write starts first, and its appends leave at the end of that tick, before the write is durable", async t => {
  // One voter and one learner: the voter elects itself, and its appends to the learner go out
  // while its own write of the same entries syncs.
  const learner = 'n2' as NodeId
  const events: string[] = []
  const driver = await electedDriver(t, {
    learners: [learner],
    save: async (write, save) => {
      const indexes = write.entries.map(entry => entry.index).join(',')
      if (indexes !== '') events.push(`write ${indexes}`)
      await save(write)
      if (indexes !== '') events.push(`durable ${indexes}`)
    },
    // As the transport's corked sockets do: what is sent in a tick is written when the tick ends.
    // The learner acknowledges every append a moment later, so that the leader keeps sending.
    send: (messages, driver) => {
      for (const message of messages) {
        if (message.type !== 'append') continue
        const last = message.index + message.entries.length
        if (message.entries.length > 0) process.nextTick(() => { events.push(`on the wire ${message.entries.map(entry => entry.index).join(',')}`) })
        setImmediate(() => { driver.step({ type: 'appendResponse', from: learner, to: id, term: message.term, index: last, reject: false, rejectHint: 0, logTerm: 0 }) })
      }
    }
  })
  const first = driver.status().lastIndex + 1
  for (let round = 0; round < 10; round++) {
    driver.propose(new TextEncoder().encode(`v${round}`))
    for (let i = 0; i < 200 && driver.status().applied < first + round; i++) await new Promise(resolve => setTimeout(resolve, 2))
  }
  // The proposals' writes; the first entry of the new term was written before the leader settled.
  const written = events.filter(event => event.startsWith('write ') && Number(event.slice(6).split(',')[0]) >= first)
  t.true(written.length >= 5, events.join(' | '))
  for (const write of written) {
    const indexes = write.slice(6)
    const sent = events.indexOf(`on the wire ${indexes}`)
    t.true(sent > events.indexOf(write), `entries ${indexes} went out before their write started: ${events.join(' | ')}`)
    t.true(sent < events.indexOf(`durable ${indexes}`), `entries ${indexes} waited for their write: ${events.join(' | ')}`)
  }
})
