import test from 'ava'
import { assert, AssertionError, unreachable } from '../../src/lib/assert.js'
import { describeError, errorCode, GalaxyError, UsageError } from '../../src/lib/errors.js'
import { err, ok } from '../../src/lib/result.js'

test('ok and err build the two sides of a Result', t => {
  t.deepEqual(ok(3), { ok: true, value: 3 })
  t.deepEqual(err('no'), { ok: false, error: 'no' })
})

test('assert passes silently and throws an AssertionError with its fields', t => {
  t.notThrows(() => { assert(1 + 1 === 2, 'arithmetic') })
  const error = t.throws(() => { assert(false, 'commit index went back', { from: 7, to: 5 }) }, { instanceOf: AssertionError })
  t.is(error?.message, 'commit index went back {"from":7,"to":5}')
  t.deepEqual(error?.fields, { from: 7, to: 5 })
  t.throws(() => unreachable('x' as never), { instanceOf: AssertionError })
})

test('a GalaxyError keeps its stable code, its class name and its cause', t => {
  const cause = new Error('EACCES: permission denied')
  const error = new UsageError('--data: cannot use /root', { cause })
  t.true(error instanceof GalaxyError)
  t.is(error.code, 'ERR_USAGE')
  t.is(error.name, 'UsageError')
  t.is(error.cause, cause)
  t.is(errorCode(error), 'ERR_USAGE')
  t.is(errorCode(new Error('boom')), 'ERR_INTERNAL')
  t.is(new GalaxyError('ERR_STORAGE', 'x').name, 'GalaxyError')
})

test('a GalaxyError is named as in the source when the bundle calls its class _Name', t => {
  // esbuild names a class that refers to itself this way in the executable (scripts/build.mjs).
  class _StoreError extends GalaxyError {
    static readonly code = 'ERR_STORE'
    constructor (message: string) { super(_StoreError.code, message) }
  }
  t.is(new _StoreError('x').name, 'StoreError')
})

test('describeError reads a chain of causes as one line without repeats', t => {
  const root = new Error('ENOSPC: no space left on device\n    at write')
  const middle = new Error('writing raft log', { cause: root })
  const top = new GalaxyError('ERR_STORAGE', 'cannot persist ready', { cause: middle })
  t.is(describeError(top), 'cannot persist ready: writing raft log: ENOSPC: no space left on device')
  t.is(describeError('plain'), 'plain')
  t.is(describeError(new Error('', { cause: new Error('inner') })), 'inner')
})
