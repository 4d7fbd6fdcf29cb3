import { request } from 'node:http'
import test from 'ava'
import { deferred } from '../../src/lib/deferred.js'
import { silentLogger } from '../../src/lib/logger.js'
import type { ApiCall } from '../../src/node/api/call.js'
import { maxRequestBodyBytes, startApiServer } from '../../src/node/api/server.js'

async function server (t: { teardown: (fn: () => void) => void }): Promise<{ port: number, calls: ApiCall[] }> {
  const calls: ApiCall[] = []
  const started = await startApiServer({
    listen: { host: '127.0.0.1', port: 0 },
    token: 'secret',
    logger: silentLogger,
    handle: async call => {
      calls.push(call)
      return { status: 200, contentType: 'application/json', body: new TextEncoder().encode(JSON.stringify({ bytes: call.body.byteLength })) }
    }
  })
  t.teardown(() => { started.server.closeAllConnections(); started.server.close() })
  return { port: started.address.port, calls }
}

async function post (port: number, body: Buffer | Buffer[], token = 'secret'): Promise<{ status: number, text: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/echo?x=1', headers: { authorization: `Bearer ${token}` } }, response => {
      let text = ''
      response.on('data', (chunk: Buffer) => { text += chunk.toString() })
      response.on('end', () => { resolve({ status: response.statusCode ?? 0, text }) })
    })
    req.on('error', reject)
    for (const part of Array.isArray(body) ? body : [body]) req.write(part)
    req.end()
  })
}

test('the body reaches the handler whole, in one chunk or many, with the path and query', async t => {
  const { port, calls } = await server(t)
  t.like(await post(port, Buffer.alloc(0)), { status: 200, text: '{"bytes":0}' })
  const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(10_000, i))
  t.like(await post(port, parts), { status: 200, text: '{"bytes":500000}' })
  const last = calls[calls.length - 1]
  t.true(Buffer.from(last?.body ?? []).equals(Buffer.concat(parts)))
  t.is(last?.path, '/v1/echo')
  t.is(last?.query.get('x'), '1')
})

test('a body over the limit is refused without reaching the handler, and a wrong token too', async t => {
  t.timeout(60_000)
  const { port, calls } = await server(t)
  const mib = Buffer.alloc(1 << 20, 7)
  const refused = await post(port, Array.from({ length: maxRequestBodyBytes / mib.byteLength + 1 }, () => mib))
  t.is(refused.status, 413)
  t.regex(refused.text, /larger than/)
  t.like(await post(port, Buffer.from('{}'), 'wrong'), { status: 401 })
  t.is(calls.length, 0)
})

test('a client that goes away before its answer aborts the call\'s signal; one answered never does', async t => {
  t.timeout(10_000)
  const seen: Array<{ call: ApiCall, aborted: Promise<void> }> = []
  const answer = deferred<void>()
  const started = await startApiServer({
    listen: { host: '127.0.0.1', port: 0 },
    token: 'secret',
    logger: silentLogger,
    handle: async call => {
      seen.push({ call, aborted: new Promise(resolve => { call.signal.addEventListener('abort', () => { resolve() }, { once: true }) }) })
      if (call.path === '/v1/wait') await answer.promise
      return { status: 200, contentType: 'application/json', body: new TextEncoder().encode('{}') }
    }
  })
  t.teardown(() => { answer.resolve(); started.server.closeAllConnections(); started.server.close() })
  const port = started.address.port
  t.like(await post(port, Buffer.from('{}')), { status: 200 })
  const left = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/wait', headers: { authorization: 'Bearer secret' } })
  left.on('error', () => {})
  left.end('{}')
  while (seen.length < 2) await new Promise(resolve => setTimeout(resolve, 10))
  t.false(seen[1]?.call.signal.aborted)
  left.destroy()
  await seen[1]?.aborted
  t.true(seen[1]?.call.signal.aborted)
  t.false(seen[0]?.call.signal.aborted, 'the answered call was not aborted')
  t.is(seen[1]?.call.path, '/v1/wait')
})
