import { timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { HostPort } from '../../lib/host-port.js'
import { LazyAbort } from '../../lib/lazy-abort.js'
import type { Logger } from '../../lib/logger.js'
import { noteClientWork } from '../idle-memory.js'
import { CallerCall, type ApiCall, type ApiReply } from './call.js'
import { errorReply, ApiFailure } from './router.js'

/** The largest request body the API reads (a snapshot restore is the big one). */
export const maxRequestBodyBytes = 64 * 1024 * 1024

/**
 * The node's HTTP/JSON API: checks the bearer token, reads the body (bounded), and hands the call
 * to `handle`; streams answers chunk by chunk and stops when the client goes away.
 */
export async function startApiServer (init: { listen: HostPort, token: string, handle: (call: ApiCall) => Promise<ApiReply>, logger: Logger }): Promise<{ server: Server, address: HostPort }> {
  const expected = Buffer.from(`Bearer ${init.token}`)
  const server = createServer((request, response) => {
    noteClientWork()
    void serve(request, response, expected, init.handle).catch(error => {
      init.logger.warn('api request failed', { error: (error as Error).message })
      response.destroy()
    })
  })
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.listen.port, init.listen.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const bound = server.address() as AddressInfo
  return { server, address: { host: init.listen.host, port: bound.port } }
}

async function serve (request: IncomingMessage, response: ServerResponse, expected: Buffer, handle: (call: ApiCall) => Promise<ApiReply>): Promise<void> {
  const gone = new LazyAbort()
  // The caller went away before the whole reply was sent: whatever serves it stops. (Aborting
  // after every reply cost each request an AbortError and its stack trace.)
  response.on('close', () => { if (!response.writableFinished) gone.abort() })
  const presented = Buffer.from(request.headers.authorization ?? '')
  let reply: ApiReply
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    request.resume()
    reply = errorReply(new ApiFailure('ERR_UNAUTHORIZED', 'missing or wrong API token (pass --token or set GALAXY_TOKEN; the first seed wrote it to <data>/admin.token)'))
  } else {
    const body = await readBody(request)
    if (body === undefined) {
      reply = errorReply(new ApiFailure('ERR_LIMIT', `the request body is larger than ${maxRequestBodyBytes} bytes`))
    } else {
      const url = new URL(request.url ?? '/', 'http://galaxy')
      reply = await handle(new CallerCall({ method: request.method ?? 'GET', path: url.pathname, query: url.searchParams, body, internal: false, hops: 0 }, gone))
    }
  }
  response.statusCode = reply.status
  response.setHeader('content-type', reply.contentType)
  if ('body' in reply) {
    response.setHeader('content-length', reply.body.byteLength)
    response.end(reply.body)
    return
  }
  response.flushHeaders()
  try {
    for await (const chunk of reply.stream) {
      if (gone.aborted) break
      if (!response.write(chunk)) {
        // A client that goes away with a full buffer never drains: stop on close as well.
        await new Promise<void>(resolve => {
          const done = (): void => { response.off('drain', done); response.off('close', done); resolve() }
          response.once('drain', done)
          response.once('close', done)
        })
      }
    }
  } finally {
    response.end()
  }
}

/**
 * The request's body, or undefined when it is larger than `maxRequestBodyBytes` (the rest is
 * then read and dropped). Read with events: an async iterator over the request cost each small
 * request more than the rest of its reading.
 */
async function readBody (request: IncomingMessage): Promise<Uint8Array | undefined> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength
      if (size <= maxRequestBodyBytes) {
        chunks.push(chunk)
        return
      }
      request.off('data', onData)
      request.off('end', onEnd)
      request.resume()
      chunks.length = 0
      resolve(undefined)
    }
    const onEnd = (): void => { resolve(chunks.length === 1 ? new Uint8Array(chunks[0] as Buffer) : new Uint8Array(Buffer.concat(chunks))) }
    request.on('data', onData)
    request.once('end', onEnd)
    request.once('error', reject)
  })
}

