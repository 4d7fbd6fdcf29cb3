import test from 'ava'
import { formatDuration, parseDuration } from '../../src/lib/duration.js'

test('durations parse to whole milliseconds in ms, s, m and h, alone or combined', t => {
  const cases: Array<[string, number]> = [
    ['0', 0], ['500ms', 500], ['15s', 15_000], ['2m', 120_000], ['1h', 3_600_000], ['1h30m', 5_400_000],
    ['1m30s', 90_000], ['1.5s', 1500], ['0.1s', 100], ['2s500ms', 2500], ['0s', 0]
  ]
  for (const [text, ms] of cases) t.deepEqual(parseDuration(text), { ok: true, value: ms }, text)
})

test('malformed durations are refused with the reason', t => {
  t.deepEqual(parseDuration('15'), { ok: false, error: 'duration "15" has no unit after 15 (write it like 500ms, 15s, 2m or 1h30m)' })
  t.deepEqual(parseDuration('15x'), { ok: false, error: 'duration "15x" has an unknown unit "x" (use ms, s, m or h)' })
  t.deepEqual(parseDuration('3d'), { ok: false, error: 'duration "3d" has an unknown unit "d" (use ms, s, m or h)' })
  t.deepEqual(parseDuration('-5s'), { ok: false, error: 'duration "-5s" must not be negative' })
  t.deepEqual(parseDuration(''), { ok: false, error: 'empty duration (write it like 500ms, 15s, 2m or 1h30m)' })
  t.deepEqual(parseDuration('s'), { ok: false, error: '"s" is not a duration (write it like 500ms, 15s, 2m or 1h30m)' })
  t.deepEqual(parseDuration('1.5ms'), { ok: false, error: 'duration "1.5ms" is not a whole number of milliseconds' })
  t.deepEqual(parseDuration(' 5s'), { ok: false, error: '" 5s" is not a duration (write it like 500ms, 15s, 2m or 1h30m)' })
  t.false(parseDuration('99999999999999999999h').ok)
  t.regex((parseDuration('1s'.repeat(40)) as { error: string }).error, /too long/)
})

test('formatted durations read back to the same milliseconds', t => {
  t.is(formatDuration(0), '0s')
  t.is(formatDuration(250), '250ms')
  t.is(formatDuration(15_000), '15s')
  t.is(formatDuration(90_000), '1m30s')
  t.is(formatDuration(1500), '1.5s')
  t.is(formatDuration(3_600_000 + 1), '1h0.001s')
  t.is(formatDuration(7_200_000), '2h')
  for (const ms of [0, 1, 999, 1000, 1001, 59_999, 60_000, 3_599_999, 3_600_000, 86_400_123]) {
    t.deepEqual(parseDuration(formatDuration(ms)), { ok: true, value: ms }, String(ms))
  }
})
