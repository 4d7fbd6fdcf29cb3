import test from 'ava'
import type { ApiCall, ApiReply } from '../../src/node/api/call.js'
import { RouterStore, routerStoreLimits } from '../../src/node/router-store.js'

/** A watch answer that sends one change and ends, as a watch does when its stream breaks. */
function endedWatch (): ApiReply {
  return {
    status: 200,
    contentType: 'application/x-ndjson',
    stream: (async function * () { yield new TextEncoder().encode('{"type":"put","key":"k"}\n') })()
  }
}

test('a watch whose stream ended returns at once when its signal aborts in the pause before it reopens', async t => {
  const calls: ApiCall[] = []
  const store = new RouterStore(async call => { calls.push(call); return endedWatch() })
  const controller = new AbortController()
  let changes = 0
  const watching = store.watch('jobs/', () => { changes++ }, controller.signal)
  // The first stream gave its change; it ends next, and the watch pauses before it reopens.
  while (changes === 0) await new Promise(resolve => setImmediate(resolve))
  t.is(calls.length, 1)
  t.is(calls[0]?.path, '/v1/watch')
  t.is(calls[0]?.query.get('prefix'), 'jobs/')
  const aborted = performance.now()
  controller.abort()
  await watching
  const waitedMs = performance.now() - aborted
  t.true(waitedMs < routerStoreLimits.rewatchMs / 2, `returned ${waitedMs.toFixed(0)} ms after the abort, not after the ${routerStoreLimits.rewatchMs} ms pause`)
  t.is(calls.length, 1, 'no watch opened after the abort')
})
