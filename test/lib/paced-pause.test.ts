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
  t.deepEqual(rests, [30, 6, 0], 'three times each part; a rest under a millisecond is one turn of the event loop')
  t.is(now, 48.2)
})

test('a share outside (0, 1] is refused; share 1 never rests', async t => {
  t.throws(() => pacedPause(0, () => 0, async () => {}), { instanceOf: RangeError })
  t.throws(() => pacedPause(1.5, () => 0, async () => {}), { instanceOf: RangeError })
  let now = 0
  const rests: number[] = []
  const pause = pacedPause(1, () => now, async ms => { rests.push(ms) })
  now += 50
  await pause()
  t.deepEqual(rests, [0])
})
