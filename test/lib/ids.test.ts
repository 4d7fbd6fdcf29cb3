import test from 'ava'
import { parseJobId, parseNodeId, parsePodId, parsePoolName, parseTaskId } from '../../src/lib/ids.js'

test('a job name that follows the DNS label rule parses to the same text', t => {
  const parsed = parseJobId('web-frontend2')
  t.deepEqual(parsed, { ok: true, value: 'web-frontend2' })
})

test('bad ids are refused with the rule they break', t => {
  t.deepEqual(parseJobId(''), { ok: false, error: 'JobId must not be empty' })
  t.deepEqual(parseJobId('Web'), { ok: false, error: 'JobId "Web" must use only lower-case letters, digits and inner dashes' })
  t.deepEqual(parseJobId('-web'), { ok: false, error: 'JobId "-web" must use only lower-case letters, digits and inner dashes' })
  t.deepEqual(parseJobId('a'.repeat(64)), { ok: false, error: `JobId "${'a'.repeat(64)}" is longer than 63 characters` })
  t.false(parseTaskId('task_1').ok)
  t.false(parsePoolName('pool/a').ok)
  t.false(parseNodeId('12D3KooW0OIl').ok, 'base58 has no 0, O, I or l')
})

test('pod ids may hold dots; node ids are base58', t => {
  t.true(parsePodId('web.3').ok)
  t.true(parseNodeId('12D3KooWGzBi6Fq3kZBbhKyEoBUCL9bXR6gLnTTqX4mP8Ekv5YwD').ok)
})
