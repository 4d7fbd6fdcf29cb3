import test from 'ava'
import { ManualClock } from '../../src/lib/clock.js'

test('a manual clock moves only when advanced, and wall time follows', t => {
  const clock = new ManualClock({ startMs: 100, wallStartMs: 1_000_000 })
  t.is(clock.monotonicMs(), 100)
  t.is(clock.wallMs(), 1_000_000)
  clock.advance(50)
  t.is(clock.monotonicMs(), 150)
  t.is(clock.wallMs(), 1_000_050)
})

test('timers fire at their due time, in due order, ties in the order set', t => {
  const clock = new ManualClock()
  const fired: string[] = []
  clock.setTimer(30, () => fired.push(`c@${clock.monotonicMs()}`))
  clock.setTimer(10, () => fired.push(`a@${clock.monotonicMs()}`))
  clock.setTimer(10, () => fired.push(`b@${clock.monotonicMs()}`))
  clock.setTimer(31, () => fired.push('late'))
  clock.advance(30)
  t.deepEqual(fired, ['a@10', 'b@10', 'c@30'])
  t.is(clock.monotonicMs(), 30)
  t.is(clock.pendingTimers(), 1)
})

test('timers set by a firing timer fire in the same advance when due', t => {
  const clock = new ManualClock()
  const fired: number[] = []
  clock.setTimer(5, () => {
    fired.push(clock.monotonicMs())
    clock.setTimer(5, () => fired.push(clock.monotonicMs()))
  })
  clock.advance(12)
  t.deepEqual(fired, [5, 10])
})

test('a cancelled timer never fires', t => {
  const clock = new ManualClock()
  let fired = false
  const timer = clock.setTimer(1, () => { fired = true })
  timer.cancel()
  timer.cancel()
  clock.advance(10)
  t.false(fired)
  t.is(clock.pendingTimers(), 0)
})

test('a clock cannot go back and timers cannot be set in the past', t => {
  const clock = new ManualClock()
  t.throws(() => { clock.advance(-1) })
  t.throws(() => clock.setTimer(-5, () => {}))
})
