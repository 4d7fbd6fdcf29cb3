import test from 'ava'
import { RaftLog } from '../../src/raft/log.js'
import { Raft } from '../../src/raft/raft.js'
import type { Ready } from '../../src/raft/raw-node.js'
import { MemoryStorage, type DurableWrite } from '../../src/raft/storage.js'
import { LockTable } from '../../src/store/lock-table.js'
import { StoreStateMachine, type StoreData } from '../../src/store/state-machine.js'
import type { SessionCommand, StoreCommand, StoreResult } from '../../src/store/types.js'
import { runSeed } from './runner.js'

/** Runs seeds until one reports a violation; returns the first seed and what it found. */
function firstViolation (maxSeeds: number, overrides: Parameters<typeof runSeed>[1] = {}): { seed: number, property: string } | undefined {
  for (let seed = 1; seed <= maxSeeds; seed++) {
    const violation = runSeed(seed, overrides).violations[0]
    if (violation !== undefined) return { seed, property: violation.property }
  }
  return undefined
}

/** Replaces a method for the duration of `body`, then puts the real one back. */
function withPlantedBug<T extends object, K extends keyof T> (target: T, key: K, bug: T[K], body: () => void): void {
  const real = target[key]
  target[key] = bug
  try {
    body()
  } finally {
    target[key] = real
  }
}

test('a vote granted without the election restriction (§5.4.1) is caught within 50 seeds', t => {
  withPlantedBug(RaftLog.prototype, 'isUpToDate', () => true, () => {
    const found = firstViolation(50)
    t.truthy(found, 'the simulator missed the planted bug')
    t.log(`caught at seed ${found?.seed}: ${found?.property}`)
  })
  t.deepEqual(firstViolation(3), undefined, 'and the real code passes the same seeds')
})

test('committing an older-term entry by counting replicas (Figure 8) is caught within 100 seeds', t => {
  withPlantedBug(RaftLog.prototype, 'maybeCommit', function (this: RaftLog, quorumIndex: number) {
    if (quorumIndex <= this.committed) return false
    this.commitTo(quorumIndex)
    return true
  }, () => {
    const found = firstViolation(100)
    t.truthy(found, 'the simulator missed the planted bug')
    t.log(`caught at seed ${found?.seed}: ${found?.property}`)
  })
})

test('a leader that answers reads at its commit index alone, missing writes a follower committed on the leader\'s word that its disk holds them, is caught within 50 seeds', t => {
  withPlantedBug(Raft.prototype, 'readFloor', function (this: Raft) { return this.log.committed }, () => {
    const found = firstViolation(50)
    t.truthy(found, 'the simulator missed the planted bug')
    t.log(`caught at seed ${found?.seed}: ${found?.property}`)
  })
})

test('a log that counts entries as durable before they are written (so a leader tells its followers too early) is caught within 2500 seeds', t => {
  withPlantedBug(RaftLog.prototype, 'stableIndex', function (this: RaftLog) { return this.lastIndex() }, () => {
    const found = firstViolation(2500)
    t.truthy(found, 'the simulator missed the planted bug')
    t.log(`caught at seed ${found?.seed}: ${found?.property}`)
  })
})

test('a vote forgotten across a restart (not persisted) is caught within 1000 seeds', t => {
  const realSave = MemoryStorage.prototype.save
  withPlantedBug(MemoryStorage.prototype, 'save', function (this: MemoryStorage, write: DurableWrite) {
    realSave.call(this, write.hardState === undefined ? write : { ...write, hardState: { ...write.hardState, vote: null } })
  }, () => {
    const found = firstViolation(1000)
    t.truthy(found, 'the simulator missed the planted bug')
    t.log(`caught at seed ${found?.seed}: ${found?.property}`)
  })
})

/** The first violation of `property` within `maxSeeds`, if any. */
function firstViolationOf (property: string, maxSeeds: number): number | undefined {
  for (let seed = 1; seed <= maxSeeds; seed++) {
    if (runSeed(seed).violations.some(violation => violation.property === property)) return seed
  }
  return undefined
}

test('a store that forgets sessions (a retry applies twice) is caught within 20 seeds', t => {
  withPlantedBug(StoreStateMachine.prototype, 'apply', function (this: StoreStateMachine, _index: number, command: SessionCommand) {
    return (this as unknown as { execute: (command: StoreCommand) => StoreResult }).execute(command.command)
  }, () => {
    const seed = firstViolationOf('session', 20)
    t.not(seed, undefined, 'the simulator missed the planted bug')
    t.log(`caught at seed ${seed}`)
  })
})

test('a lock handed on with a token that does not increase is caught within 20 seeds', t => {
  const realRelease = LockTable.prototype.release
  withPlantedBug(LockTable.prototype, 'release', function (this: LockTable, name: string, owner: string) {
    return realRelease.call(this, name, owner, 1)
  }, () => {
    const seed = firstViolationOf('fencing', 20)
    t.not(seed, undefined, 'the simulator missed the planted bug')
    t.log(`caught at seed ${seed}`)
  })
})

test('a snapshot that loses part of the store is caught within 20 seeds', t => {
  const realFromData = StoreStateMachine.fromData
  withPlantedBug(StoreStateMachine, 'fromData', (data: StoreData) => realFromData({ ...data, sessions: data.sessions.slice(1) }), () => {
    const seed = firstViolationOf('store state', 20)
    t.not(seed, undefined, 'the simulator missed the planted bug')
    t.log(`caught at seed ${seed}`)
  })
})

test('applying committed entries of a write before it is durable is caught within 50 single-voter seeds', t => {
  // A single voter commits what it appends; answering before its own write lands loses the write in a crash.
  const applyEveryReadyEarly = (ready: Ready): boolean => ready.snapshot === undefined && ready.softState === undefined && ready.committedEntries.every(entry => entry.type !== 'confChange')
  const found = firstViolation(50, { voters: 1, applyBeforeWrite: applyEveryReadyEarly })
  t.truthy(found, 'the simulator missed the planted bug')
  t.log(`caught at seed ${found?.seed}: ${found?.property}`)
})
