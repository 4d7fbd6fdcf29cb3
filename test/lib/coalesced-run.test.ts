import test from 'ava'
import { CoalescedRun } from '../../src/lib/coalesced-run.js'
import { deferred } from '../../src/lib/deferred.js'

test('kicks during a run coalesce into one more run after it; a failing run is reported and the next kick runs again', async t => {
  let runs = 0
  let gate = deferred<void>()
  const errors: string[] = []
  const run = new CoalescedRun(async () => {
    runs++
    await gate.promise
    if (runs === 2) throw new Error('boom')
  }, error => { errors.push(error.message) })
  run.kick()
  run.kick()
  run.kick()
  t.is(runs, 1, 'never two at once')
  const first = gate
  gate = deferred<void>()
  first.resolve()
  await new Promise(resolve => setImmediate(resolve))
  t.is(runs, 2, 'one more run for the three kicks')
  gate.resolve()
  await new Promise(resolve => setImmediate(resolve))
  t.deepEqual(errors, ['boom'])
  run.kick()
  await new Promise(resolve => setImmediate(resolve))
  t.is(runs, 3)
})
