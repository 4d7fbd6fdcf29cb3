import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import { rm } from 'node:fs/promises'
import { GalaxyError } from '../../lib/errors.js'
import type { CommandSource } from '../../roles/appworker/appworker-controller.js'
import type { PodCommand, PodStatus } from '../../roles/appworker/pod-status.js'
import { DecodeError } from '../decode-error.js'
import { decodePullRequest, decodePullResponse, encodePullRequest, encodePullResponse, type PullRequest } from './pull-codec.js'

/** The pull protocol's bounds: a pull body, its path, and the Unix socket path length Linux allows. */
export const pullSocketLimits = {
  maxBodyBytes: 1024 * 1024,
  path: '/v1/pull',
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

async function readBody (incoming: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    total += chunk.byteLength
    if (total > pullSocketLimits.maxBodyBytes) throw new PullError(`a pull body is more than ${pullSocketLimits.maxBodyBytes} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/**
 * The node's end: serves `POST /v1/pull` on a container's Unix socket and answers each pull with
 * what `answer` says (the command source). A body that does not decode gets 400, and `answer`
 * never sees it.
 */
export class PullSocketServer {
  private constructor (private readonly server: Server, readonly path: string) {}

  static async listen (path: string, answer: (request: PullRequest) => Promise<PodCommand>): Promise<PullSocketServer> {
    checkSocketPath(path)
    // A socket left by a node that was killed would refuse the bind.
    await rm(path, { force: true })
    const server = createServer((incoming, response) => {
      void (async () => {
        if (incoming.method !== 'POST' || incoming.url !== pullSocketLimits.path) {
          response.writeHead(404).end()
          return
        }
        try {
          const pull = decodePullRequest(await readBody(incoming))
          const body = encodePullResponse(await answer(pull))
          response.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': body.byteLength }).end(body)
        } catch (error) {
          const status = error instanceof DecodeError || error instanceof PullError ? 400 : 503
          response.writeHead(status, { 'content-type': 'text/plain' }).end((error as Error).message)
        }
      })()
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => { server.off('error', reject); resolve() })
    })
    return new PullSocketServer(server, path)
  }

  async close (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise(resolve => this.server.close(resolve))
    await rm(this.path, { force: true })
  }
}

/** The AppWorker's end: each pull is one `POST /v1/pull` on the container's socket, bounded by `timeoutMs`. */
export class SocketCommandSource implements CommandSource {
  constructor (private readonly options: {
    readonly socketPath: string
    readonly timeoutMs: number
    readonly identity: Omit<PullRequest, 'status'>
  }) {
    checkSocketPath(options.socketPath)
  }

  async pull (status: PodStatus): Promise<PodCommand> {
    const body = encodePullRequest({ ...this.options.identity, status })
    const answer = await new Promise<{ status: number, body: Buffer }>((resolve, reject) => {
      const outgoing = request({
        socketPath: this.options.socketPath,
        method: 'POST',
        path: pullSocketLimits.path,
        headers: { 'content-type': 'application/x-protobuf', 'content-length': body.byteLength },
        signal: AbortSignal.timeout(this.options.timeoutMs)
      }, incoming => {
        readBody(incoming).then(bytes => { resolve({ status: incoming.statusCode ?? 0, body: bytes }) }, reject)
      })
      outgoing.once('error', reject)
      outgoing.end(body)
    }).catch((error: unknown) => {
      throw new PullError(`cannot pull from the node at ${this.options.socketPath}: ${(error as Error).message}`, { cause: error })
    })
    if (answer.status !== 200) throw new PullError(`the node answered the pull with ${answer.status}: ${answer.body.toString('utf8').slice(0, 200)}`)
    return decodePullResponse(answer.body)
  }
}
