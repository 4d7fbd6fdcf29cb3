import { GalaxyError } from '../../lib/errors.js'
import { formatHostPort, type HostPort } from '../../lib/host-port.js'
import type { JobEvent } from '../../roles/job/job-record.js'
import { deadlineSignal } from '../deadline-signal.js'
import type { JobOperationBody, JobStatusBody, JobSubmitBody, JobSummaryBody, NamingBody } from './job-wire.js'
import type {
  AgentBody, ApiErrorCode, ErrorBody, KeyValueBody, LockBody, MemberBody, NodeBody, StatusBody, TxnBody, TxnResultBody, WatchLine
} from './wire.js'

/** A failure the API answered: `code` is the API's stable code (wire.ts), `message` its one line. */
export class ApiError extends GalaxyError {
  /** The HTTP status it came with. */
  readonly status: number

  constructor (code: ApiErrorCode, message: string, status: number) {
    super(code, message)
    this.status = status
  }
}

/** No connection to the node could be made: the request never left this process. */
export class NodeUnreachableError extends GalaxyError {
  static readonly code = 'ERR_UNREACHABLE'

  constructor (message: string, options?: { cause?: unknown }) {
    super(NodeUnreachableError.code, message, options)
  }
}

/**
 * The connection broke after the request may have been sent and before the answer was complete:
 * the node may have done what was asked (a write may have applied), as after a timeout.
 */
export class ConnectionLostError extends GalaxyError {
  static readonly code = 'ERR_CONNECTION_LOST'

  constructor (message: string, options?: { cause?: unknown }) {
    super(ConnectionLostError.code, message, options)
  }
}

/** The node did not answer within the request's time limit. */
export class RequestTimeoutError extends GalaxyError {
  static readonly code = 'ERR_TIMEOUT'

  constructor (message: string) {
    super(RequestTimeoutError.code, message)
  }
}

/** The node answered something that is not the API's JSON (a proxy's page, a truncated body, a line too long). */
export class BadResponseError extends GalaxyError {
  static readonly code = 'ERR_BAD_RESPONSE'

  constructor (message: string, options?: { cause?: unknown }) {
    super(BadResponseError.code, message, options)
  }
}

/** `GET /kv/<key>`. */
export interface GetResultBody {
  readonly kv: KeyValueBody | null
  readonly revision: number
}

/** `GET /kv?prefix=P`: one page; `more` says there are keys after the last one. */
export interface ListResultBody {
  readonly items: readonly KeyValueBody[]
  readonly more: boolean
  readonly revision: number
}

/** Answers that only say at which revision a write landed. */
export interface RevisionBody {
  readonly revision: number
}

/** `DELETE /kv/<key>`: how many keys went. */
export interface DeleteResultBody {
  readonly revision: number
  readonly deleted: number
}

/** `POST /lease/grant` and `/lease/keepalive`. */
export interface LeaseBody {
  readonly lease: number
  readonly ttlMs: number
}

/**
 * `POST /operator/raft/transfer-leader`. wire.ts does not say what `leader` holds; the node is
 * named by its id, or by `{ id, name }` as `StatusBody.leader` does.
 */
export interface TransferLeaderBody {
  readonly leader: string | { readonly id: string, readonly name: string }
}

/** `POST /pods/<pod>/restart`: the pod and the container it now runs in. */
export interface PodRestartBody {
  readonly pod: string
  readonly container: string
}

/** What part of a task log to read: its task, stream, last `tail` bytes, and whether to follow it. */
export interface LogOptions {
  readonly task?: string | undefined
  readonly stream?: 'stdout' | 'stderr' | undefined
  readonly tail?: number | undefined
  readonly follow?: boolean | undefined
  readonly signal?: AbortSignal | undefined
}

/** How a client finds and authenticates to a node. */
export interface ApiClientOptions {
  readonly endpoint: HostPort
  readonly token?: string | undefined
  /** The limit on each request but `watch`; `defaultRequestTimeoutMs` unless set. */
  readonly timeoutMs?: number | undefined
}

/** How long a request may take unless the caller says otherwise: a Raft write needs a quorum, not more. */
export const defaultRequestTimeoutMs = 10_000

/** Snapshots move the whole store, so their requests get at least this long. */
const snapshotTimeoutMs = 300_000

/** Bounds on what the client reads into memory. */
export const apiClientLimits = {
  /** An error or JSON answer; the largest is a list page of values up to the store's 1 MiB each. */
  jsonBodyBytes: 256 * 1024 * 1024,
  /** One NDJSON line of a watch, in characters: a base64 value of 1 MiB plus its key, with room to spare. */
  watchLineChars: 4 * 1024 * 1024,
  /** A whole snapshot, held in memory once. */
  snapshotBytes: 2 * 1024 * 1024 * 1024
} as const

type Query = Record<string, string | number | boolean | undefined>

interface RequestOptions {
  readonly query?: Query
  readonly json?: unknown
  readonly bytes?: Uint8Array
  readonly timeoutMs?: number | null
  readonly signal?: AbortSignal | undefined
}

/**
 * The HTTP/JSON client of a node's API (`wire.ts`, `job-wire.ts`), one method per route, over the global
 * `fetch`. Every request but `watch` is bounded by a timeout. Failures throw: `ApiError` with the
 * API's code and message for an error answer, `NodeUnreachableError` when no connection could be
 * made, `ConnectionLostError` when one broke before the answer, `RequestTimeoutError` after the
 * time limit, `BadResponseError` for an answer that is not the API's. Bodies come back as the wire shapes; values stay base64 (`decodeValue`).
 */
export class ApiClient {
  private readonly endpoint: HostPort
  private readonly token: string | undefined
  private readonly timeoutMs: number
  private readonly base: string

  constructor (options: ApiClientOptions) {
    this.endpoint = options.endpoint
    this.token = options.token
    this.timeoutMs = options.timeoutMs ?? defaultRequestTimeoutMs
    this.base = `http://${formatHostPort(options.endpoint)}/v1`
  }

  /** `GET /status`: this node's view of the cluster. */
  async status (): Promise<StatusBody> {
    return await this.json('GET', '/status')
  }

  /** `GET /members`: the Raft members. */
  async members (): Promise<{ readonly members: readonly MemberBody[] }> {
    return await this.json('GET', '/members')
  }

  /** `GET /nodes`: every node gossip knows. */
  async nodes (): Promise<{ readonly nodes: readonly NodeBody[] }> {
    return await this.json('GET', '/nodes')
  }

  /** `GET /agent`: the agent of this node, its report and containers. */
  async agent (): Promise<AgentBody> {
    return await this.json('GET', '/agent')
  }

  /**
   * `GET /agent/containers/<id>/logs`: a task's log on this node, the last `tail` bytes, then with
   * `follow` what is appended, until `signal` aborts (quietly) or the node ends the stream.
   */
  async * logs (container: string, options: LogOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    yield * this.stream(`/agent/containers/${encodeURIComponent(container)}/logs`, options)
  }

  /** `GET /kv/<key>`: `kv` is null when the key does not exist. `stale` reads this node's copy without asking the leader. */
  async get (key: string, options: { stale?: boolean } = {}): Promise<GetResultBody> {
    return await this.json('GET', keyPath(key), { query: { stale: flag(options.stale) } })
  }

  /** `GET /kv?prefix=P`: one page of keys in order, starting after `after`. */
  async list (prefix: string, options: { after?: string | undefined, limit?: number | undefined, stale?: boolean } = {}): Promise<ListResultBody> {
    return await this.json('GET', '/kv', { query: { prefix, after: options.after, limit: options.limit, stale: flag(options.stale) } })
  }

  /** `PUT /kv/<key>`: writes `value`, attached to `lease` when given. */
  async put (key: string, value: Uint8Array, options: { lease?: number | undefined } = {}): Promise<RevisionBody> {
    return await this.json('PUT', keyPath(key), { json: { value: encodeValue(value), lease: options.lease } })
  }

  /** `DELETE /kv/<key>`: the key, or with `prefix` every key that starts with it. */
  async delete (key: string, options: { prefix?: boolean } = {}): Promise<DeleteResultBody> {
    return await this.json('DELETE', keyPath(key), { query: { prefix: flag(options.prefix) } })
  }

  /** `POST /txn`: compares, then the success or the failure operations, atomically. Values in `body` are base64. */
  async txn (body: TxnBody): Promise<TxnResultBody> {
    return await this.json('POST', '/txn', { json: body })
  }

  /**
   * `GET /watch`: the events of keys under `prefix` from `revision` on, as they happen, without a
   * time limit. Ends when the node closes the stream, or quietly when `signal` aborts; a consumer
   * that stops iterating closes the connection.
   */
  async * watch (prefix: string, revision: number, options: { signal?: AbortSignal } = {}): AsyncGenerator<WatchLine, void, undefined> {
    const local = new AbortController()
    const signal = options.signal === undefined ? local.signal : AbortSignal.any([local.signal, options.signal])
    let response: Response
    try {
      response = await this.send('GET', '/watch', { query: { prefix, revision }, timeoutMs: null, signal })
    } catch (error) {
      if (options.signal?.aborted === true) return
      throw error
    }
    const body = response.body
    if (body === null) return
    const reader = body.getReader()
    const decoder = new TextDecoder()
    let pending = ''
    try {
      while (true) {
        let chunk: Awaited<ReturnType<typeof reader.read>>
        try {
          chunk = await reader.read()
        } catch (error) {
          if (options.signal?.aborted === true) return
          throw this.transportError(error)
        }
        pending += chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true })
        let newline = pending.indexOf('\n')
        while (newline !== -1) {
          const line = pending.slice(0, newline).trim()
          pending = pending.slice(newline + 1)
          if (line !== '') yield parseWatchLine(line)
          newline = pending.indexOf('\n')
        }
        if (pending.length > apiClientLimits.watchLineChars) {
          throw new BadResponseError(`a watch line from ${this.where()} is longer than ${apiClientLimits.watchLineChars} characters`)
        }
        if (chunk.done) {
          if (pending.trim() !== '') yield parseWatchLine(pending.trim())
          return
        }
      }
    } finally {
      local.abort()
      reader.releaseLock()
    }
  }

  /** `POST /lease/grant`: a lease that expires `ttlMs` after its last keep-alive. */
  async leaseGrant (ttlMs: number): Promise<LeaseBody> {
    return await this.json('POST', '/lease/grant', { json: { ttlMs } })
  }

  /** `POST /lease/keepalive`: restarts the lease's TTL. */
  async leaseKeepAlive (lease: number): Promise<LeaseBody> {
    return await this.json('POST', '/lease/keepalive', { json: { lease } })
  }

  /** `POST /lease/revoke`: ends the lease now, deleting its keys and releasing its locks. */
  async leaseRevoke (lease: number): Promise<RevisionBody> {
    return await this.json('POST', '/lease/revoke', { json: { lease } })
  }

  /**
   * `POST /lock/acquire`: takes the lock for `owner` under `lease`, waiting up to `waitMs` for its
   * holder (then `ERR_LOCK_BUSY`); the request's time limit is the wait plus the usual one.
   */
  async lockAcquire (request: { name: string, owner: string, lease: number, waitMs?: number | undefined }): Promise<LockBody> {
    return await this.json('POST', '/lock/acquire', { json: request, timeoutMs: this.timeoutMs + (request.waitMs ?? 0) })
  }

  /** `POST /lock/release`: `ERR_NOT_HOLDER` unless `owner` holds it. */
  async lockRelease (name: string, owner: string): Promise<RevisionBody> {
    return await this.json('POST', '/lock/release', { json: { name, owner } })
  }

  /** `GET /operator/raft/peers`. */
  async raftPeers (): Promise<{ readonly peers: readonly MemberBody[] }> {
    return await this.json('GET', '/operator/raft/peers')
  }

  /** `POST /operator/raft/remove-peer`: takes a member out of the Raft configuration. */
  async removePeer (id: string): Promise<{ readonly ok: true }> {
    return await this.json('POST', '/operator/raft/remove-peer', { json: { id } })
  }

  /** `POST /operator/raft/transfer-leader`: to `id`, or to the most caught-up voter when absent. */
  async transferLeader (id?: string): Promise<TransferLeaderBody> {
    return await this.json('POST', '/operator/raft/transfer-leader', { json: id === undefined ? {} : { id } })
  }

  /** `GET /operator/snapshot`: the store at one point, as opaque bytes for `snapshotRestore`. */
  async snapshotSave (): Promise<Uint8Array> {
    const timeoutMs = Math.max(this.timeoutMs, snapshotTimeoutMs)
    const response = await this.send('GET', '/operator/snapshot', { timeoutMs })
    return await this.readBody(response, apiClientLimits.snapshotBytes, timeoutMs)
  }

  /** `POST /operator/snapshot/restore`: replaces the store with a snapshot. */
  async snapshotRestore (bytes: Uint8Array): Promise<RevisionBody> {
    return await this.json('POST', '/operator/snapshot/restore', { bytes, timeoutMs: Math.max(this.timeoutMs, snapshotTimeoutMs) })
  }

  /** `POST /compact`: forgets the history up to `revision`; watches from before it are told `compacted`. */
  async compact (revision: number): Promise<RevisionBody> {
    return await this.json('POST', '/compact', { json: { revision } })
  }

  /** `POST /jobs`: creates the job the spec names, or updates it when it exists (job-wire.ts). */
  async submitJob (body: JobSubmitBody): Promise<JobOperationBody> {
    return await this.json('POST', '/jobs', { json: body })
  }

  /** `GET /jobs`: one line per job. */
  async jobs (): Promise<{ readonly jobs: readonly JobSummaryBody[] }> {
    return await this.json('GET', '/jobs')
  }

  /** `GET /jobs/<job>`: the job, its pods and what could not be placed. */
  async job (name: string): Promise<JobStatusBody> {
    return await this.json('GET', jobPath(name))
  }

  /** `GET /jobs/<job>/history`: the job's latest events, oldest first. */
  async jobHistory (name: string): Promise<{ readonly history: readonly JobEvent[] }> {
    return await this.json('GET', `${jobPath(name)}/history`)
  }

  /** `POST /jobs/<job>/update`: a new spec for a job that exists; the spec must name it. */
  async updateJob (name: string, body: JobSubmitBody): Promise<JobOperationBody> {
    return await this.json('POST', `${jobPath(name)}/update`, { json: body })
  }

  /** `POST /jobs/<job>/<operation>`: the operations that take no argument. */
  async jobOperation (name: string, operation: 'pause' | 'cancel' | 'rollback' | 'stop' | 'remove'): Promise<JobOperationBody> {
    return await this.json('POST', `${jobPath(name)}/${operation}`, { json: {} })
  }

  /** `POST /jobs/<job>/continue`: resumes a paused update, pausing again at `breakpoint` when given. */
  async continueJob (name: string, breakpoint?: number): Promise<JobOperationBody> {
    return await this.json('POST', `${jobPath(name)}/continue`, { json: breakpoint === undefined ? {} : { breakpoint } })
  }

  /** `POST /jobs/<job>/scale`: sets how many pods the job wants. */
  async scaleJob (name: string, replica: number): Promise<JobOperationBody> {
    return await this.json('POST', `${jobPath(name)}/scale`, { json: { replica } })
  }

  /** `GET /naming/<job>[/<service>]`: the job's pods in service and their endpoints. */
  async naming (job: string, service?: string): Promise<NamingBody> {
    const path = `/naming/${encodeURIComponent(job)}${service === undefined ? '' : `/${encodeURIComponent(service)}`}`
    return await this.json('GET', path)
  }

  /**
   * `GET /pods/<pod>/logs`: a pod's task log, from whichever node runs it, as `logs` reads an
   * agent's container: the last `tail` bytes, then with `follow` what is appended.
   */
  async * podLogs (pod: string, options: LogOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    yield * this.stream(`/pods/${encodeURIComponent(pod)}/logs`, options)
  }

  /** `POST /pods/<pod>/restart`: the pod gets a new container. */
  async restartPod (pod: string): Promise<PodRestartBody> {
    return await this.json('POST', `/pods/${encodeURIComponent(pod)}/restart`, { json: {} })
  }

  /**
   * A text stream of a log route: its chunks as they come, without a time limit when following,
   * until `signal` aborts (quietly) or the node ends the stream.
   */
  private async * stream (path: string, options: LogOptions): AsyncGenerator<Uint8Array, void, undefined> {
    const query = { task: options.task, stream: options.stream, tail: options.tail, follow: flag(options.follow) }
    let response: Response
    try {
      response = await this.send('GET', path, { query, timeoutMs: options.follow === true ? null : undefined, signal: options.signal })
    } catch (error) {
      if (options.signal?.aborted === true) return
      throw error
    }
    const reader = response.body?.getReader()
    if (reader === undefined) return
    try {
      while (true) {
        const chunk = await reader.read().catch((error: unknown) => {
          if (options.signal?.aborted === true) return { done: true as const, value: undefined }
          throw this.transportError(error)
        })
        if (chunk.done) return
        yield chunk.value
      }
    } finally {
      reader.releaseLock()
    }
  }

  private async json<T> (method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options)
    const timeoutMs = options.timeoutMs === undefined ? this.timeoutMs : options.timeoutMs
    return parseJson(await this.readBody(response, apiClientLimits.jsonBodyBytes, timeoutMs), this.where()) as T
  }

  /** Sends one request and returns its 2xx response with the body unread; anything else throws. */
  private async send (method: string, path: string, options: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`
    let body: string | Uint8Array | undefined
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(options.json)
    } else if (options.bytes !== undefined) {
      headers['content-type'] = 'application/octet-stream'
      body = options.bytes
    }
    const timeoutMs = options.timeoutMs === undefined ? this.timeoutMs : options.timeoutMs
    const signal = timeoutMs === null ? options.signal : deadlineSignal(timeoutMs, options.signal)
    let response: Response
    try {
      response = await fetch(`${this.base}${path}${queryString(options.query)}`, {
        method, headers, body, signal: signal ?? null
      })
    } catch (error) {
      throw this.transportError(error, timeoutMs)
    }
    if (response.ok) return response
    const text = new TextDecoder().decode(await this.readBody(response, apiClientLimits.jsonBodyBytes, timeoutMs))
    throw this.errorFromAnswer(response, text)
  }

  /** Reads a whole body, up to `maxBytes`; a broken connection or the time limit throws as for the request. */
  private async readBody (response: Response, maxBytes: number, timeoutMs: number | null = this.timeoutMs): Promise<Uint8Array> {
    const declared = Number(response.headers.get('content-length') ?? Number.NaN)
    if (declared > maxBytes) throw new BadResponseError(`the answer of ${this.where()} is ${declared} bytes, more than the ${maxBytes} allowed`)
    if (response.body === null) return new Uint8Array(0)
    const chunks: Uint8Array[] = []
    let total = 0
    try {
      for await (const chunk of response.body) {
        total += chunk.byteLength
        // Throwing out of the loop cancels the stream.
        if (total > maxBytes) {
          throw new BadResponseError(`the answer of ${this.where()} is more than the ${maxBytes} bytes allowed`)
        }
        chunks.push(chunk)
      }
    } catch (error) {
      if (error instanceof GalaxyError) throw error
      throw this.transportError(error, timeoutMs)
    }
    return Buffer.concat(chunks)
  }

  private errorFromAnswer (response: Response, text: string): GalaxyError {
    try {
      const body = JSON.parse(text) as Partial<ErrorBody>
      const code = body.error?.code
      const message = body.error?.message
      if (typeof code === 'string' && typeof message === 'string') return new ApiError(code as ApiErrorCode, message, response.status)
    } catch {
      // Not the API's error body: described below by its status.
    }
    const snippet = text.trim().split('\n')[0]?.slice(0, 200) ?? ''
    return new BadResponseError(`${this.where()} answered HTTP ${response.status} ${response.statusText}${snippet === '' ? '' : `: ${snippet}`}`)
  }

  /** Turns what `fetch` throws into the error a person can act on. */
  private transportError (error: unknown, timeoutMs: number | null = this.timeoutMs): Error {
    if (error instanceof GalaxyError) return error
    const name = error instanceof Error ? error.name : ''
    if (name === 'TimeoutError' && timeoutMs !== null) {
      return new RequestTimeoutError(`galaxy node at ${this.where()} did not answer within ${timeoutMs / 1000}s`)
    }
    // The caller's own signal: pass its abort on untouched.
    if (name === 'AbortError') return error as Error
    const cause = (error as { cause?: { code?: unknown, message?: unknown } } | undefined)?.cause
    const code = typeof cause?.code === 'string' ? cause.code : ''
    // Failures to connect: nothing was sent.
    const unreachable: Record<string, string> = {
      ECONNREFUSED: 'connection refused (is "galaxy up" running?)',
      ENOTFOUND: 'host not found',
      EAI_AGAIN: 'host name lookup failed',
      EHOSTUNREACH: 'no route to host',
      ENETUNREACH: 'network unreachable',
      UND_ERR_CONNECT_TIMEOUT: 'connection timed out'
    }
    let reason = unreachable[code]
    // fetch refuses a list of ports (the Fetch standard's "bad ports") before dialling.
    if (reason === undefined && cause?.message === 'bad port') reason = `port ${this.endpoint.port} is one that fetch refuses to use; serve the API on another port`
    if (reason !== undefined) return new NodeUnreachableError(`cannot reach galaxy node at ${this.where()}: ${reason}`, { cause: error })
    // Anything else broke a connection that was made: the request may have arrived.
    const lost: Record<string, string> = { ECONNRESET: 'connection reset', UND_ERR_SOCKET: 'connection closed', EPIPE: 'connection closed', ETIMEDOUT: 'connection timed out' }
    reason = lost[code] ?? (typeof cause?.message === 'string' ? cause.message : (error instanceof Error ? error.message : String(error)))
    return new ConnectionLostError(`lost the connection to galaxy node at ${this.where()} before its answer (${reason}); what was asked may or may not have been done`, { cause: error })
  }

  private where (): string {
    return formatHostPort(this.endpoint)
  }
}

/** A value as it travels (base64). */
export function encodeValue (value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
}

/** The bytes of a value that travelled as base64. */
export function decodeValue (value: string): Uint8Array {
  return new Uint8Array(Buffer.from(value, 'base64'))
}

function jobPath (name: string): string {
  return `/jobs/${encodeURIComponent(name)}`
}

function keyPath (key: string): string {
  if (key === '') throw new GalaxyError('ERR_BAD_REQUEST', 'a key must not be empty')
  return `/kv/${encodeURIComponent(key)}`
}

function flag (value: boolean | undefined): string | undefined {
  return value === true ? '1' : undefined
}

function queryString (query: Query | undefined): string {
  if (query === undefined) return ''
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value))
  const text = params.toString()
  return text === '' ? '' : `?${text}`
}

function parseJson (bytes: Uint8Array, where: string): unknown {
  const text = new TextDecoder().decode(bytes)
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new BadResponseError(`${where} answered with malformed JSON`, { cause: error })
  }
}

function parseWatchLine (line: string): WatchLine {
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch (error) {
    throw new BadResponseError('a watch line is not JSON', { cause: error })
  }
  const type = (parsed as { type?: unknown } | null)?.type
  if (type !== 'put' && type !== 'delete' && type !== 'compacted' && type !== 'progress') {
    throw new BadResponseError(`a watch line has an unknown type ${JSON.stringify(type)}`)
  }
  return parsed as WatchLine
}
