import test, { type ExecutionContext } from 'ava'
import { IdleMemoryReducer, idleMemoryLimits, noteClientWork, processProbe } from '../../src/node/idle-memory.js'

/** A probe whose CPU and clock the test moves, counting reductions. */
function fakeProbe (): { cpu: number, now: number, held: number, work: number, reductions: number, kinds: string[], probe: ConstructorParameters<typeof IdleMemoryReducer>[0] } {
  const state = {
    cpu: 0,
    now: 0,
    held: 16,
    work: 0,
    reductions: 0,
    kinds: [] as string[],
    probe: { cpuMs: () => state.cpu, nowMs: () => state.now, heldBytes: () => state.held, clientWork: () => state.work, reduce: (kind: string) => { state.reductions++; state.kinds.push(kind); state.cpu += 50; state.held = 1 } }
  }
  return state
}

/** Moves the fake clock one check interval on, with the process using `share` of a core meanwhile. */
function tick (state: ReturnType<typeof fakeProbe>, share: number): void {
  state.now += idleMemoryLimits.checkEveryMs
  state.cpu += share * idleMemoryLimits.checkEveryMs
}

/** `checks` quiet checks at `share` of a core: all but the last give nothing back, the last does. */
function reducesAfter (t: ExecutionContext, state: ReturnType<typeof fakeProbe>, reducer: IdleMemoryReducer, checks: number, share: number, message?: string): void {
  for (let i = 1; i < checks; i++) {
    tick(state, share)
    t.false(reducer.check())
  }
  tick(state, share)
  t.true(reducer.check(), message)
}

test('memory is given back once per idle spell, after enough quiet checks, and again after the process was busy', t => {
  const state = fakeProbe()
  const reducer = new IdleMemoryReducer(state.probe)
  const quiet = idleMemoryLimits.idleCpuShare / 4
  const busy = idleMemoryLimits.idleCpuShare * 4
  reducesAfter(t, state, reducer, idleMemoryLimits.idleChecks, quiet)
  t.is(state.reductions, 1)
  // Still idle (the collection's own CPU is not counted as busy): nothing more.
  for (let i = 0; i < 5; i++) {
    tick(state, quiet)
    t.false(reducer.check())
  }
  tick(state, busy)
  t.false(reducer.check())
  // Busy since the last reduction: the next waits for the longer quiet spell.
  reducesAfter(t, state, reducer, idleMemoryLimits.idleChecksAfterBusy, quiet)
  t.is(state.reductions, 2)
})

test('a process busy before it first gave memory back (starting up) gives it back after the short spell', t => {
  const state = fakeProbe()
  const reducer = new IdleMemoryReducer(state.probe)
  for (let i = 0; i < idleMemoryLimits.busyChecksBeforeFirst; i++) {
    tick(state, 1)
    reducer.check()
  }
  for (let i = 0; i < idleMemoryLimits.idleChecks; i++) {
    tick(state, 0)
    reducer.check()
  }
  t.is(state.reductions, 1)
})

test('a process busy for longer than a start before it first gave memory back waits for the long spell', t => {
  const state = fakeProbe()
  const reducer = new IdleMemoryReducer(state.probe)
  for (let i = 0; i <= idleMemoryLimits.busyChecksBeforeFirst; i++) {
    tick(state, 1)
    t.false(reducer.check())
  }
  reducesAfter(t, state, reducer, idleMemoryLimits.idleChecksAfterBusy, 0)
  t.deepEqual(state.kinds, ['shrink'])
})

test('a busy check in the middle of a quiet spell starts the count again', t => {
  const state = fakeProbe()
  const reducer = new IdleMemoryReducer(state.probe)
  for (let round = 0; round < 5; round++) {
    for (let i = 1; i < idleMemoryLimits.idleChecks; i++) {
      tick(state, 0)
      reducer.check()
    }
    tick(state, 1)
    reducer.check()
  }
  t.is(state.reductions, 0)
})

test('the real reduction runs on this Node (the executable\'s Node shrinks the young generation with it: test/smoke)', t => {
  t.notThrows(() => { processProbe().reduce('shrink') })
  t.notThrows(() => { processProbe().reduce('collect') })
})

test('light work that grows V8\'s memory again earns another reduction without a busy check', t => {
  const state = fakeProbe()
  const reducer = new IdleMemoryReducer(state.probe)
  for (let i = 0; i < idleMemoryLimits.idleChecks; i++) {
    tick(state, 0)
    reducer.check()
  }
  t.is(state.reductions, 1)
  tick(state, 0)
  t.false(reducer.check(), 'nothing grew')
  state.held = 1 + idleMemoryLimits.regrowthBytes
  tick(state, idleMemoryLimits.idleCpuShare / 2)
  t.false(reducer.check(), 'grown, but too soon after the last reduction')
  while (state.now < idleMemoryLimits.idleChecks * idleMemoryLimits.checkEveryMs + idleMemoryLimits.regrowthIntervalMs) {
    tick(state, 0)
    reducer.check()
  }
  t.is(state.reductions, 2)
  t.deepEqual(state.kinds, ['shrink', 'collect'], 'the growth is collected, not shrunk again')
  state.held = 2
  for (let i = 0; i < 2 * idleMemoryLimits.regrowthIntervalMs / idleMemoryLimits.checkEveryMs; i++) {
    tick(state, 0)
    reducer.check()
  }
  t.is(state.reductions, 2, 'a little growth never earns another')
})

test('no memory is given back while the process works for clients, however little CPU that takes; the short quiet spell follows', t => {
  const state = fakeProbe()
  const reducer = new IdleMemoryReducer(state.probe)
  const light = idleMemoryLimits.idleCpuShare / 4
  // A request or an applied write in every check: never idle, even for far longer than the long spell.
  for (let i = 0; i < 3 * idleMemoryLimits.idleChecksAfterBusy; i++) {
    state.work += 3
    tick(state, light)
    t.false(reducer.check())
  }
  t.is(state.reductions, 0)
  // The clients went away: light work is not busy work, so the short spell is enough.
  reducesAfter(t, state, reducer, idleMemoryLimits.idleChecks, 0)
  // Light work after a reduction holds off the growth rule's collection too.
  state.held = 1 + 2 * idleMemoryLimits.regrowthBytes
  for (let i = 0; i < 2 * idleMemoryLimits.regrowthIntervalMs / idleMemoryLimits.checkEveryMs; i++) {
    state.work++
    tick(state, light)
    t.false(reducer.check())
  }
  t.is(state.reductions, 1)
  reducesAfter(t, state, reducer, idleMemoryLimits.idleChecks, 0, 'quiet for the short spell again, with the growth to collect')
  t.deepEqual(state.kinds, ['shrink', 'collect'])
})

test('a node counts the API requests it serves and the writes it applies as work for clients', t => {
  const probe = processProbe()
  const before = probe.clientWork()
  noteClientWork()
  noteClientWork(4)
  t.is(probe.clientWork(), before + 5)
})
