import { createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import test from 'ava'
import { deadlineSignal } from '../../src/node/deadline-signal.js'
import { gc } from '../helpers/collect-garbage.js'

test('a fetch to a server that never answers ends at the deadline, even with garbage collected meanwhile', async t => {
  const sockets = new Set<Socket>()
  const server = createServer(socket => { sockets.add(socket) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const socket of sockets) socket.destroy(); server.close() })
  const started = performance.now()
  const request = fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { signal: deadlineSignal(300) })
  for (let i = 0; i < 5; i++) {
    gc()
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  // The reason fetch rejects with is a DOMException, as with AbortSignal.timeout.
  const error = await request.then(() => undefined, (reason: unknown) => reason as { name?: string })
  t.is(error?.name, 'TimeoutError')
  t.true(performance.now() - started < 3000)
})

test('the parent\'s abort passes through with its reason, and an aborted parent aborts at once', t => {
  const parent = new AbortController()
  const signal = deadlineSignal(60_000, parent.signal)
  t.false(signal.aborted)
  parent.abort(new Error('caller left'))
  t.true(signal.aborted)
  t.is((signal.reason as Error).message, 'caller left')
  t.is((deadlineSignal(60_000, parent.signal).reason as Error).message, 'caller left')
})
