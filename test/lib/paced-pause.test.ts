import test from 'ava'
import { pacedPause } from '../../src/lib/paced-pause.js'

test('after each part the pause rests so that the parts take the given share of the time', async t => {
  let now = 0
  const rests: number[] = []
  const pause = pacedPause(0.25, () => now, async ms => { rests.push(ms); now += ms })
  now += 10
  await pause()
  now += 2
  await pause()
  now += 0.2
  await pause()
  now += 0.2
  await pause()
  t.deepEqual(rests.map(ms => Math.round(ms * 1000) / 1000), [30, 6, 0, 1.2], 'three times each part; rest under a millisecond is one turn of the event loop, and is owed until it adds up to one')
  t.is(Math.round(now * 1000) / 1000, 49.6)
})

test('parts far shorter than a millisecond keep to the share too', async t => {
  let now = 0
  let rested = 0
  const pause = pacedPause(0.1, () => now, async ms => { rested += ms; now += ms })
  for (let i = 0; i < 1000; i++) {
    now += 0.1
    await pause()
  }
  // 100 ms of parts owe 900 ms of rest; at most the last millisecond of it is still owed.
  t.true(rested > 899 && rested < 900.001, `rested ${rested} ms`)
})

test('time that passes in a pause pays off rest, and rest is not paid in advance', async t => {
  let now = 0
  const rests: number[] = []
  // Each turn of the event loop takes 0.5 ms of other work; a timer fires 2 ms late.
  const pause = pacedPause(0.5, () => now, async ms => { rests.push(ms); now += ms === 0 ? 0.5 : ms + 2 })
  now += 0.8
  await pause() // owes 0.8: a turn (0.5) pays part of it
  now += 0.8
  await pause() // owes 0.3 + 0.8 = 1.1: a timer, 2 ms late, pays it all and more
  now += 0.4
  await pause() // owes 0.4, not 0.4 minus the surplus
  t.deepEqual(rests.map(ms => Math.round(ms * 1000) / 1000), [0, 1.1, 0])
})

test('a share outside (0, 1] is refused; share 1 never rests', async t => {
  t.throws(() => pacedPause(0, () => 0, async () => {}), { instanceOf: RangeError })
  t.throws(() => pacedPause(1.5, () => 0, async () => {}), { instanceOf: RangeError })
  let now = 0
  const rests: number[] = []
  const pause = pacedPause(1, () => now, async ms => { rests.push(ms) })
  now += 50
  await pause()
  now += 50
  await pause()
  t.deepEqual(rests, [0, 0])
})
