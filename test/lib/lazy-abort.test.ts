import test from 'ava'
import { LazyAbort } from '../../src/lib/lazy-abort.js'

test('the signal is made when first asked for and aborts with the call', t => {
  const gone = new LazyAbort()
  const signal = gone.signal
  t.is(gone.signal, signal, 'one signal')
  t.false(signal.aborted)
  let heard = 0
  signal.addEventListener('abort', () => { heard++ })
  gone.abort()
  gone.abort()
  t.true(gone.aborted)
  t.true(signal.aborted)
  t.is(heard, 1)
})

test('a signal first asked for after the abort is aborted already', t => {
  const gone = new LazyAbort()
  t.false(gone.aborted)
  gone.abort()
  t.true(gone.aborted)
  t.true(gone.signal.aborted)
})
