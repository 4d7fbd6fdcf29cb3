// The pull socket between an AppWorker and its node: length-prefixed protobuf frames on one
// persistent Unix stream connection (src/node/appworker/pull-frame.ts), served by a real
// PullSocketServer and pulled by a real SocketCommandSource, with raw `node:net` peers for what
// neither would send.
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import type { ContainerId, JobId, PodId } from '../../src/lib/ids.js'
import { SeededRng, randomInt } from '../../src/lib/rng.js'
import { DecodeError } from '../../src/node/decode-error.js'
import { encodePullRequest, type PullRequest } from '../../src/node/appworker/pull-codec.js'
import { decodeReply, encodeFrame, FrameReader, frameHeaderBytes } from '../../src/node/appworker/pull-frame.js'
import { PullError, pullSocketLimits, pullSocketName, PullSocketServer, SocketCommandSource } from '../../src/node/appworker/pull-socket.js'
import type { PodCommand, PodStatus } from '../../src/roles/appworker/pod-status.js'
import { tempDir } from '../helpers/temp-dir.js'

const identity = { containerId: 'c1' as ContainerId, jobId: 'job1' as JobId, podId: 'pod1' as PodId, appWorkerPid: 4242 }
const status: PodStatus = { phase: 'running', version: 'v1', dataVersion: '', healthy: true, message: '', tasks: [] }

function socketPath (t: ExecutionContext): string {
  return join(tempDir(t), pullSocketName)
}

async function serve (t: ExecutionContext, path: string, answer: (request: PullRequest) => Promise<PodCommand>): Promise<PullSocketServer> {
  const server = await PullSocketServer.listen(path, answer)
  t.teardown(async () => { await server.close() })
  return server
}

function source (t: ExecutionContext, path: string, timeoutMs = 5000): SocketCommandSource {
  const made = new SocketCommandSource({ socketPath: path, timeoutMs, identity })
  t.teardown(() => { made.close() })
  return made
}

/** A raw connection that collects what it receives and says when it closed. */
function rawConnect (t: ExecutionContext, path: string): { socket: Socket, received: () => Buffer, closed: Promise<void> } {
  const socket = createConnection(path)
  t.teardown(() => { socket.destroy() })
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => { chunks.push(chunk) })
  socket.on('error', () => {})
  const closed = new Promise<void>(resolve => socket.once('close', () => { resolve() }))
  return { socket, received: () => Buffer.concat(chunks), closed }
}

async function until (what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

test('a pull round trip: the node sees who pulls and the status, the AppWorker gets the command', async t => {
  const path = socketPath(t)
  const seen: PullRequest[] = []
  await serve(t, path, async request => { seen.push(request); return { type: 'stop' } })
  t.deepEqual(await source(t, path).pull(status), { type: 'stop' })
  t.deepEqual(seen, [{ ...identity, status }])
})

test('many pulls go over one connection', async t => {
  const path = socketPath(t)
  let pulls = 0
  const server = await serve(t, path, async () => { pulls++; return pulls % 2 === 0 ? { type: 'wait' } : { type: 'stop' } })
  const pulling = source(t, path)
  for (let i = 1; i <= 200; i++) {
    t.deepEqual(await pulling.pull(status), i % 2 === 0 ? { type: 'wait' } : { type: 'stop' })
  }
  t.is(pulls, 200)
  t.is(server.connectionCount, 1)
})

test('an oversized length drops that connection at once, garbage is refused without reaching answer, and the server serves others', async t => {
  const path = socketPath(t)
  let answered = 0
  await serve(t, path, async () => { answered++; return { type: 'wait' } })
  // The length alone claims 4 GiB: the server drops the connection without waiting for (or allocating) the bytes.
  const oversized = rawConnect(t, path)
  const header = Buffer.alloc(frameHeaderBytes)
  header.writeUInt32BE(0xffffffff)
  oversized.socket.write(header)
  await oversized.closed
  t.is(oversized.received().byteLength, 0)
  // One byte over the bound, with its bytes sent: dropped too.
  const justOver = rawConnect(t, path)
  justOver.socket.write(encodeFrame(Buffer.alloc(pullSocketLimits.maxBodyBytes + 1)))
  await justOver.closed
  // A whole frame that is not a PullRequest is refused, and the connection stays usable.
  const garbage = rawConnect(t, path)
  garbage.socket.write(encodeFrame(Buffer.from([0x0a, 0xff, 0xff])))
  await until('a reply to the garbage', () => garbage.received().byteLength > 0)
  const reply = decodeReply(garbage.received().subarray(frameHeaderBytes))
  t.is(reply?.status, 'refused')
  t.regex(reply?.status === 'refused' ? reply.message : '', /^not a pull request/)
  garbage.socket.write(encodeFrame(encodePullRequest({ ...identity, status })))
  await until('a reply to the good pull', () => answered === 1 && garbage.received().byteLength > 0)
  // Seeded random streams: each connection ends dropped or waiting, never a crash.
  const rng = new SeededRng(11)
  for (let i = 0; i < 50; i++) {
    const random = rawConnect(t, path)
    random.socket.end(Buffer.from(Array.from({ length: randomInt(rng, 0, 300) }, () => randomInt(rng, 0, 256))))
  }
  t.deepEqual(await source(t, path).pull(status), { type: 'wait' })
})

test('a pull that times out drops its connection, so the late answer is not taken for the next pull', async t => {
  const path = socketPath(t)
  let release = (): void => {}
  const released = new Promise<void>(resolve => { release = resolve })
  t.teardown(release)
  let pulls = 0
  await serve(t, path, async () => {
    pulls++
    if (pulls === 1) {
      await released
      return { type: 'stop' }
    }
    return { type: 'wait' }
  })
  const pulling = source(t, path, 300)
  const error = await t.throwsAsync(pulling.pull(status), { instanceOf: PullError })
  t.is(error?.message, `cannot pull from the node at ${path}: no answer within 300 ms`)
  const next = pulling.pull(status)
  release()
  t.deepEqual(await next, { type: 'wait' })
  t.deepEqual(await pulling.pull(status), { type: 'wait' })
})

test('the node restarting its socket: the next pull after the restart succeeds', async t => {
  const path = socketPath(t)
  const answer = async (): Promise<PodCommand> => ({ type: 'wait' })
  const pulling = source(t, path)
  let server = await PullSocketServer.listen(path, answer)
  t.teardown(async () => { await server.close() })
  for (let round = 0; round < 20; round++) {
    t.deepEqual(await pulling.pull(status), { type: 'wait' })
    await server.close()
    if (round % 2 === 0) {
      // A pull while the node is away fails with one line and is not retried.
      const error = await t.throwsAsync(pulling.pull(status), { instanceOf: PullError })
      t.regex(error?.message ?? '', new RegExp(`^cannot pull from the node at ${path}: connect ENOENT`))
    }
    server = await PullSocketServer.listen(path, answer)
    t.deepEqual(await pulling.pull(status), { type: 'wait' })
  }
})

test('closing the server fails a pull in flight at once, not at its timeout', async t => {
  const path = socketPath(t)
  let release = (): void => {}
  t.teardown(() => { release() })
  let asked = false
  const server = await serve(t, path, async () => {
    asked = true
    await new Promise<void>(resolve => { release = resolve })
    return { type: 'wait' }
  })
  const started = Date.now()
  const pull = source(t, path, 60_000).pull(status)
  await until('the node has the pull', () => asked)
  await server.close()
  const error = await t.throwsAsync(pull, { instanceOf: PullError })
  t.is(error?.message, `cannot pull from the node at ${path}: the node closed the connection`)
  t.true(Date.now() - started < 10_000)
})

test('an answer that throws a PullError refuses the pull, any other error makes it unavailable; both are one line', async t => {
  const path = socketPath(t)
  let failure: Error = new PullError('a pull for container c9 on the socket of c1')
  await serve(t, path, async () => { throw failure })
  const pulling = source(t, path)
  const refused = await t.throwsAsync(pulling.pull(status), { instanceOf: PullError })
  t.is(refused?.message, 'the node refused the pull: a pull for container c9 on the socket of c1')
  failure = new Error('no AppMaster answers\nsecond line')
  const unavailable = await t.throwsAsync(pulling.pull(status), { instanceOf: PullError })
  t.is(unavailable?.message, 'the node could not answer the pull: no AppMaster answers')
})

test('a second pull while one is in flight fails at once; the first is answered', async t => {
  const path = socketPath(t)
  let release = (): void => {}
  t.teardown(() => { release() })
  const released = new Promise<void>(resolve => { release = resolve })
  await serve(t, path, async () => { await released; return { type: 'stop' } })
  const pulling = source(t, path)
  const first = pulling.pull(status)
  await t.throwsAsync(pulling.pull(status), { instanceOf: PullError, message: `a pull to the node at ${path} is already in flight` })
  release()
  t.deepEqual(await first, { type: 'stop' })
})

test('a node that breaks the framing fails the pull with a PullError and loses the connection', async t => {
  const path = socketPath(t)
  const replies: Buffer[] = []
  let connections = 0
  const fake: Server = createServer(socket => {
    connections++
    socket.on('error', () => {})
    socket.on('data', () => { socket.write(replies.shift() ?? Buffer.alloc(0)) })
  })
  await new Promise<void>(resolve => fake.listen(path, resolve))
  t.teardown(async () => { fake.close(); await new Promise(resolve => setImmediate(resolve)) })
  const pulling = source(t, path)
  const huge = Buffer.alloc(frameHeaderBytes)
  huge.writeUInt32BE(0xffffffff)
  replies.push(huge, encodeFrame(Buffer.from([9, 1, 2])), encodeFrame(Buffer.from([0])))
  await t.throwsAsync(pulling.pull(status), { instanceOf: PullError, message: /^cannot pull from the node at .*: a pull socket frame of 4294967295 bytes/ })
  await t.throwsAsync(pulling.pull(status), { instanceOf: PullError, message: /^cannot pull from the node at .*: a reply without a known status$/ })
  // An ok reply whose body is no PullResponse: the decoder's error, as before.
  await t.throwsAsync(pulling.pull(status), { instanceOf: DecodeError })
  t.is(connections, 3)
})

test('the frame reader: frames cut anywhere come out whole; a length over the bound throws before its bytes arrive', t => {
  const payloads = [Buffer.from('a'), Buffer.alloc(0), Buffer.from('hello world'), Buffer.alloc(3000, 7)]
  const stream = Buffer.concat(payloads.map(payload => encodeFrame(payload)))
  for (const step of [1, 2, 3, 5, 4096, stream.byteLength]) {
    const reader = new FrameReader(4096)
    const out: Buffer[] = []
    for (let at = 0; at < stream.byteLength; at += step) {
      reader.push(stream.subarray(at, at + step))
      for (let frame = reader.next(); frame !== undefined; frame = reader.next()) out.push(Buffer.from(frame))
    }
    t.deepEqual(out, payloads, `in chunks of ${step}`)
    t.false(reader.hasBytes)
  }
  const reader = new FrameReader(10)
  reader.push(Buffer.from([0, 0, 0, 11]))
  t.throws(() => reader.next(), { instanceOf: DecodeError, message: 'a pull socket frame of 11 bytes, more than the 10 allowed' })
  const flooded = new FrameReader(10)
  flooded.push(Buffer.alloc(2 * (frameHeaderBytes + 10)))
  t.throws(() => { flooded.push(Buffer.alloc(1)) }, { instanceOf: DecodeError })
})
