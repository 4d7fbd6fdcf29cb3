import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { rm } from 'node:fs/promises'
import { GalaxyError } from '../../lib/errors.js'
import type { CommandSource } from '../../roles/appworker/appworker-controller.js'
import type { PodCommand, PodStatus } from '../../roles/appworker/pod-status.js'
import { DecodeError } from '../decode-error.js'
import { decodePullRequest, decodePullResponse, encodePullRequest, encodePullResponse, type PullRequest } from './pull-codec.js'
import { decodeReply, encodeFrame, encodeReply, FrameReader } from './pull-frame.js'

/**
 * The pull protocol's bounds (its framing is in pull-frame.ts): a frame's payload, the
 * connections one socket serves at once (an AppWorker needs one; a restarted one may briefly
 * hold two), how long the node keeps a connection that sends nothing (an AppWorker pulls every
 * second), and the Unix socket path length Linux allows.
 */
export const pullSocketLimits = {
  maxBodyBytes: 1024 * 1024,
  maxConnections: 8,
  idleTimeoutMs: 30_000,
  maxSocketPathBytes: 107
} as const

/** The name of the socket in a container's directory. */
export const pullSocketName = 'agent.sock'

/** A pull that could not be made or answered; the AppWorker keeps its tasks as they are. */
export class PullError extends GalaxyError {
  static readonly code = 'ERR_PULL'

  constructor (message: string, options?: { cause?: unknown }) {
    super(PullError.code, message, options)
  }
}

function checkSocketPath (path: string): void {
  if (Buffer.byteLength(path) > pullSocketLimits.maxSocketPathBytes) {
    throw new PullError(`the socket path ${path} is longer than the ${pullSocketLimits.maxSocketPathBytes} bytes a Unix socket allows: use a shorter data dir`)
  }
}

type Answer = (request: PullRequest) => Promise<PodCommand>

/**
 * The node's end: serves a container's Unix socket, any number of connections up to
 * `maxConnections`, and answers each pull with what `answer` says (the command source). A request
 * that does not decode is refused and `answer` never sees it; an `answer` that throws a
 * `PullError` refuses the pull, any other error makes it unavailable. A connection that breaks
 * the framing, or sends nothing for `idleTimeoutMs`, is dropped; the others carry on.
 */
export class PullSocketServer {
  private constructor (private readonly server: Server, private readonly connections: Set<Socket>, readonly path: string) {}

  static async listen (path: string, answer: Answer): Promise<PullSocketServer> {
    checkSocketPath(path)
    // A socket left by a node that was killed would refuse the bind.
    await rm(path, { force: true })
    const connections = new Set<Socket>()
    const server = createServer(socket => { serveConnection(socket, answer, connections) })
    server.maxConnections = pullSocketLimits.maxConnections
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => { server.off('error', reject); resolve() })
    })
    return new PullSocketServer(server, connections, path)
  }

  /** The connections open now. */
  get connectionCount (): number {
    return this.connections.size
  }

  /** Stops serving: drops every connection (a pull in flight on one fails) and removes the socket file. */
  async close (): Promise<void> {
    for (const socket of this.connections) socket.destroy()
    await new Promise(resolve => this.server.close(resolve))
    await rm(this.path, { force: true })
  }
}

function serveConnection (socket: Socket, answer: Answer, connections: Set<Socket>): void {
  connections.add(socket)
  socket.once('close', () => connections.delete(socket))
  // A peer gone mid-reply (EPIPE, ECONNRESET): 'close' follows, and there is no one to tell.
  socket.on('error', () => {})
  socket.setTimeout(pullSocketLimits.idleTimeoutMs, () => socket.destroy())
  const reader = new FrameReader(pullSocketLimits.maxBodyBytes)
  let isAnswering = false
  const serveNext = (): void => {
    if (isAnswering || socket.destroyed) return
    let request: Buffer | undefined
    try {
      request = reader.next()
    } catch {
      socket.destroy()
      return
    }
    if (request === undefined) return
    // One pull at a time: what the peer sends meanwhile waits in the kernel.
    isAnswering = true
    socket.pause()
    void replyTo(request, answer).then(reply => {
      isAnswering = false
      if (socket.destroyed) return
      socket.write(reply)
      socket.resume()
      serveNext()
    })
  }
  socket.on('data', (chunk: Buffer) => {
    try {
      reader.push(chunk)
    } catch {
      socket.destroy()
      return
    }
    serveNext()
  })
}

/** The reply frame to one request; never throws. */
async function replyTo (request: Buffer, answer: Answer): Promise<Buffer> {
  try {
    const body = encodePullResponse(await answer(decodePullRequest(request)))
    if (body.byteLength + 1 > pullSocketLimits.maxBodyBytes) {
      return encodeReply({ status: 'unavailable', message: `the answer is ${body.byteLength} bytes, more than the ${pullSocketLimits.maxBodyBytes} a pull allows` })
    }
    return encodeReply({ status: 'ok', body })
  } catch (error) {
    const status = error instanceof DecodeError || error instanceof PullError ? 'refused' : 'unavailable'
    return encodeReply({ status, message: (error as Error).message })
  }
}

/** One connection of an AppWorker to its node's socket, and the pull in flight on it. */
class PullConnection {
  private readonly socket: Socket
  private readonly reader = new FrameReader(pullSocketLimits.maxBodyBytes)
  private pending: { readonly resolve: (payload: Buffer) => void, readonly reject: (error: Error) => void } | undefined
  private isBroken = false

  constructor (path: string) {
    this.socket = createConnection(path)
    // An idle connection must not keep a stopped AppWorker alive; a pull's timer does while it waits.
    this.socket.unref()
    this.socket.on('data', (chunk: Buffer) => { this.receive(chunk) })
    this.socket.on('error', error => { this.drop(error) })
    this.socket.on('close', () => { this.drop(new Error('the node closed the connection')) })
  }

  get isUsable (): boolean {
    return !this.isBroken && !this.socket.destroyed
  }

  /** Writes a request frame; settles with the reply frame's payload, or fails when the connection breaks first. */
  async exchange (frame: Buffer): Promise<Buffer> {
    return await new Promise((resolve, reject) => {
      this.pending = { resolve, reject }
      this.socket.write(frame)
    })
  }

  /** Closes the connection; the pull in flight, if any, fails with `reason`. */
  drop (reason: Error): void {
    this.isBroken = true
    this.socket.destroy()
    const pending = this.pending
    this.pending = undefined
    pending?.reject(reason)
  }

  private receive (chunk: Buffer): void {
    const pending = this.pending
    if (pending === undefined) {
      this.drop(new Error('the node sent a reply nobody asked for'))
      return
    }
    let reply: Buffer | undefined
    try {
      this.reader.push(chunk)
      reply = this.reader.next()
    } catch (error) {
      this.drop(error as Error)
      return
    }
    if (reply === undefined) return
    this.pending = undefined
    pending.resolve(reply)
    if (this.reader.hasBytes) this.drop(new Error('the node sent more than one reply'))
  }
}

/**
 * The AppWorker's end: pulls on one connection to the container's socket, kept open between pulls
 * and re-opened by the pull after it broke. A pull is bounded by `timeoutMs` (and then the
 * connection is dropped, so that a late reply is never taken for the next pull's); a connection
 * that cannot be opened or breaks fails that pull with a `PullError`, as does a refused or
 * unavailable reply. One pull at a time: a second while one is in flight fails at once.
 */
export class SocketCommandSource implements CommandSource {
  private connection: PullConnection | undefined
  private isPulling = false

  constructor (private readonly options: {
    readonly socketPath: string
    readonly timeoutMs: number
    readonly identity: Omit<PullRequest, 'status'>
  }) {
    checkSocketPath(options.socketPath)
  }

  async pull (status: PodStatus): Promise<PodCommand> {
    const path = this.options.socketPath
    if (this.isPulling) throw new PullError(`a pull to the node at ${path} is already in flight`)
    const request = encodePullRequest({ ...this.options.identity, status })
    if (request.byteLength > pullSocketLimits.maxBodyBytes) {
      throw new PullError(`a pull of ${request.byteLength} bytes is more than the ${pullSocketLimits.maxBodyBytes} the node takes`)
    }
    if (this.connection === undefined || !this.connection.isUsable) this.connection = new PullConnection(path)
    const connection = this.connection
    this.isPulling = true
    const timer = setTimeout(() => { connection.drop(new Error(`no answer within ${this.options.timeoutMs} ms`)) }, this.options.timeoutMs)
    let payload: Buffer
    try {
      payload = await connection.exchange(encodeFrame(request))
    } catch (error) {
      throw new PullError(`cannot pull from the node at ${path}: ${(error as Error).message}`, { cause: error })
    } finally {
      clearTimeout(timer)
      this.isPulling = false
    }
    const reply = decodeReply(payload)
    if (reply === undefined) {
      connection.drop(new Error('a malformed reply'))
      throw new PullError(`cannot pull from the node at ${path}: a reply without a known status`)
    }
    if (reply.status !== 'ok') {
      throw new PullError(reply.status === 'refused' ? `the node refused the pull: ${reply.message}` : `the node could not answer the pull: ${reply.message}`)
    }
    return decodePullResponse(reply.body)
  }

  /** Closes the connection; a pull in flight fails. */
  close (): void {
    this.connection?.drop(new Error('the AppWorker closed the connection'))
    this.connection = undefined
  }
}
