import { Writable } from 'node:stream'
import test from 'ava'
import { randomInt } from '../../src/lib/rng.js'
import { createLogger } from '../../src/runtime/logger.js'
import { systemClock } from '../../src/runtime/system-clock.js'
import { SystemRng } from '../../src/runtime/system-rng.js'

test('the system clock is monotonic and its timers fire or cancel', async t => {
  const readings = Array.from({ length: 100 }, () => systemClock.monotonicMs())
  t.true(readings.every((value, i) => i === 0 || value >= (readings[i - 1] as number)))
  t.true(Math.abs(systemClock.wallMs() - Date.now()) < 1000)
  const started = systemClock.monotonicMs()
  await new Promise<void>(resolve => systemClock.setTimer(20, resolve))
  t.true(systemClock.monotonicMs() - started >= 19)
  let fired = false
  systemClock.setTimer(5, () => { fired = true }).cancel()
  await new Promise(resolve => setTimeout(resolve, 20))
  t.false(fired)
})

test('the system rng draws distinct values past its buffer', t => {
  const rng = new SystemRng()
  const values = new Set(Array.from({ length: 1000 }, () => rng.uint32()))
  t.true(values.size > 990)
  t.true([...values].every(value => Number.isInteger(value) && value >= 0 && value < 2 ** 32))
  const dice = Array.from({ length: 600 }, () => randomInt(rng, 1, 7))
  t.deepEqual([...new Set(dice)].sort(), [1, 2, 3, 4, 5, 6])
})

test('the logger writes one JSON object per line with level word, time, bindings and fields', t => {
  const lines: string[] = []
  const destination = new Writable({ write (chunk, _encoding, done) { lines.push(...chunk.toString().split('\n').filter(Boolean)); done() } })
  const log = createLogger({ level: 'info', destination, bindings: { node: 'seed1' } })
  log.debug('not written at info')
  log.child({ component: 'raft' }).info('became leader', { term: 4 })
  log.error('disk full')
  t.is(lines.length, 2)
  const first = JSON.parse(lines[0] as string)
  t.like(first, { level: 'info', msg: 'became leader', node: 'seed1', component: 'raft', term: 4, pid: process.pid })
  t.regex(first.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.like(JSON.parse(lines[1] as string), { level: 'error', msg: 'disk full' })
})
