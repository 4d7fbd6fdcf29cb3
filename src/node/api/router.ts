import { GalaxyError } from '../../lib/errors.js'
import { parseNodeId, type NodeId } from '../../lib/ids.js'
import type { Compare, KeyValue, LeaseId, StoreCommand, StoreRefusal, StoreResult, TxnOp } from '../../store/types.js'
import { DecodeError } from '../decode-error.js'
import type { StoreReplica } from '../store-replica.js'
import { storeCodec } from '../store-codec.js'
import { jsonReply, type ApiCall, type ApiReply } from './call.js'
import { apiErrorStatus, type ApiErrorCode, type CompareBody, type KeyValueBody, type LockBody, type MemberBody, type NodeBody, type StatusBody, type TxnOpBody, type WatchLine } from './wire.js'

/** What the router needs of the node it runs in. */
export interface RouterNode {
  /** This node's replica when it is a voting member; otherwise every store request is forwarded. */
  readonly replica: StoreReplica | undefined
  readonly requestTimeoutMs: number
  /** Passes a call on: to the leader, or to any voting member. */
  forward(call: ApiCall, to: 'leader' | 'voter'): Promise<ApiReply>
  status(): StatusBody
  members(): MemberBody[]
  nodes(): NodeBody[]
  join(body: unknown): Promise<unknown>
  removePeer(id: NodeId): Promise<void>
  transferLeader(id: NodeId | undefined): Promise<NodeId>
  /** This node's agent: its report and its containers (never forwarded: each node answers for itself). */
  agent(): unknown
  /** A task log of one of this node's containers, as a stream (see `GET /agent/containers/<id>/logs`). */
  agentLogs(container: string, call: ApiCall): ApiReply
  /** The job, naming and pod routes (`job-wire.ts`). */
  jobs(call: ApiCall): Promise<ApiReply>
  /** A pod's pull relayed to this node's AppMaster (`POST /internal/pull`, cluster-internal). */
  appMasterPull(body: unknown): ApiReply
}

/** An API refusal with its stable code. */
export class ApiFailure extends GalaxyError {
  constructor (readonly apiCode: ApiErrorCode, message: string) {
    super(apiCode, message)
  }
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()

/** Named bounds of the API. */
export const apiLimits = {
  maxListLimit: 10_000,
  defaultListLimit: 1_000,
  watchBatch: 1_000,
  watchProgressMs: 5_000,
  maxLockWaitMs: 5 * 60_000
} as const

/**
 * Routes API calls: store requests are served by a voting member (others forward them), leader
 * operations by the leader; answers are shaped as in `wire.ts`, errors as one-line `ErrorBody`s.
 */
export class ApiRouter {
  constructor (private readonly node: RouterNode) {}

  async handle (call: ApiCall): Promise<ApiReply> {
    try {
      return await this.route(call)
    } catch (error) {
      return errorReply(error)
    }
  }

  private async route (call: ApiCall): Promise<ApiReply> {
    const { method, path } = call
    const parts = path.split('/').filter(part => part !== '')
    if (parts[0] !== 'v1') throw new ApiFailure('ERR_NOT_FOUND', `no such route: ${method} ${path}`)
    const [, section, ...rest] = parts
    if (section === 'jobs' || section === 'naming' || section === 'pods') return await this.node.jobs(call)
    if (method === 'GET' && section === 'agent' && rest.length === 3 && rest[0] === 'containers' && rest[2] === 'logs') return this.node.agentLogs(decodeURIComponent(rest[1] ?? ''), call)
    const route = `${method} ${section ?? ''}${rest.length > 0 && section !== 'kv' ? `/${rest.join('/')}` : ''}`
    switch (route) {
      case 'GET status': return jsonReply(200, await this.local(call, 'voter', () => this.node.status()))
      case 'GET members': return jsonReply(200, { members: await this.local(call, 'voter', () => this.node.members()) })
      case 'GET nodes': return jsonReply(200, { nodes: await this.local(call, 'voter', () => this.node.nodes()) })
      case 'GET agent': return jsonReply(200, this.node.agent())
      case 'GET operator/raft/peers': return jsonReply(200, { peers: await this.local(call, 'voter', () => this.node.members()) })
      case 'GET kv': return await this.serve(call, 'voter', async replica => rest.length > 0 ? await this.getKey(replica, decodeKey(rest), call) : await this.list(replica, call))
      case 'PUT kv': return await this.serve(call, 'voter', async replica => await this.put(replica, decodeKey(rest), call))
      case 'DELETE kv': return await this.serve(call, 'voter', async replica => await this.delete(replica, decodeKey(rest), call))
      case 'POST txn': return await this.serve(call, 'voter', async replica => await this.txn(replica, call))
      case 'GET watch': return await this.serve(call, 'voter', async replica => this.watch(replica, call))
      case 'POST compact': return await this.serve(call, 'voter', async replica => {
        const result = expect(await replica.execute({ type: 'compact', revision: integerField(readJson(call), 'revision') }, this.node.requestTimeoutMs), 'compacted')
        return jsonReply(200, { revision: result.revision })
      })
      case 'POST lease/grant': return await this.serve(call, 'voter', async replica => await this.leaseGrant(replica, call))
      case 'POST lease/keepalive': return await this.serve(call, 'leader', async replica => {
        // A new leader first applies everything committed before its term, grants included.
        await replica.readBarrier(this.node.requestTimeoutMs, call.signal)
        return this.keepAlive(replica, call)
      })
      case 'POST lease/revoke': return await this.serve(call, 'voter', async replica => await this.leaseRevoke(replica, call))
      case 'POST lock/acquire': return await this.serve(call, 'voter', async replica => await this.lockAcquire(replica, call))
      case 'POST lock/release': return await this.serve(call, 'voter', async replica => await this.lockRelease(replica, call))
      case 'POST operator/raft/remove-peer': return await this.serve(call, 'leader', async () => {
        await this.node.removePeer(nodeIdField(readJson(call), 'id'))
        return jsonReply(200, { ok: true })
      })
      case 'POST operator/raft/transfer-leader': return await this.serve(call, 'leader', async () => {
        const body = readJson(call)
        const id = body.id === undefined || body.id === null || body.id === '' ? undefined : nodeIdField(body, 'id')
        return jsonReply(200, { leader: await this.node.transferLeader(id) })
      })
      case 'GET operator/snapshot': return await this.serve(call, 'voter', async replica => {
        await replica.readBarrier(this.node.requestTimeoutMs, call.signal)
        return { status: 200, contentType: 'application/octet-stream', body: storeCodec.encodeData(replica.state.toData()) }
      })
      case 'POST operator/snapshot/restore': return await this.serve(call, 'voter', async replica => {
        let data
        try {
          data = storeCodec.decodeData(call.body)
        } catch (error) {
          if (error instanceof DecodeError) throw new ApiFailure('ERR_BAD_REQUEST', 'the body is not a galaxy snapshot')
          throw error
        }
        const result = expect(await replica.execute({ type: 'restore', data }, this.node.requestTimeoutMs), 'restored')
        return jsonReply(200, { revision: result.revision })
      })
      case 'POST internal/pull':
        if (!call.internal) throw new ApiFailure('ERR_NOT_FOUND', `no such route: ${method} ${path}`)
        return this.node.appMasterPull(readJson(call))
      case 'POST internal/join':
        if (!call.internal) throw new ApiFailure('ERR_NOT_FOUND', `no such route: ${method} ${path}`)
        return await this.serve(call, 'leader', async () => jsonReply(200, await this.node.join(readJson(call))))
      default:
        throw new ApiFailure('ERR_NOT_FOUND', `no such route: ${method} ${path}`)
    }
  }

  /** Answers from this node when it is a voter (or the leader, for `leader`), else forwards. */
  private async serve (call: ApiCall, needs: 'leader' | 'voter', serveHere: (replica: StoreReplica) => Promise<ApiReply>): Promise<ApiReply> {
    const replica = this.node.replica
    const here = replica !== undefined && (needs === 'voter' ? replica.isVoter : replica.isLeader)
    if (here) return await serveHere(replica)
    return await this.node.forward(call, needs)
  }

  private async local<T> (call: ApiCall, needs: 'voter', answer: () => T): Promise<T> {
    if (this.node.replica?.isVoter === true) return answer()
    const reply = await this.node.forward(call, needs)
    if (!('body' in reply)) throw new ApiFailure('ERR_INTERNAL', 'unexpected stream')
    const parsed = JSON.parse(decoder.decode(reply.body)) as Record<string, unknown>
    if (reply.status !== 200) throw new ApiFailure(((parsed.error as { code?: ApiErrorCode } | undefined)?.code) ?? 'ERR_INTERNAL', (parsed.error as { message?: string } | undefined)?.message ?? 'forwarded request failed')
    if (call.path.endsWith('/members')) return parsed.members as T
    if (call.path.endsWith('/nodes')) return parsed.nodes as T
    if (call.path.endsWith('/peers')) return parsed.peers as T
    return parsed as T
  }

  private async getKey (replica: StoreReplica, key: string, call: ApiCall): Promise<ApiReply> {
    await this.barrier(replica, call)
    const kv = replica.state.get(key)
    return jsonReply(200, { kv: kv === undefined ? null : keyValueBody(kv), revision: replica.state.revision })
  }

  private async list (replica: StoreReplica, call: ApiCall): Promise<ApiReply> {
    const prefix = call.query.get('prefix') ?? ''
    const limit = integerParam(call.query, 'limit', apiLimits.defaultListLimit, 1, apiLimits.maxListLimit)
    const after = call.query.get('after') ?? undefined
    await this.barrier(replica, call)
    const page = replica.state.range(prefix, { after, limit })
    return jsonReply(200, { items: page.items.map(keyValueBody), more: page.more, revision: page.revision })
  }

  private async put (replica: StoreReplica, key: string, call: ApiCall): Promise<ApiReply> {
    const body = readJson(call)
    const value = base64Field(body, 'value')
    const lease = optionalInteger(body, 'lease')
    const op: TxnOp = lease === undefined ? { type: 'put', key, value } : { type: 'put', key, value, lease }
    const result = await this.runTxn(replica, { type: 'txn', compares: [], success: [op], failure: [] })
    return jsonReply(200, { revision: result.revision })
  }

  private async delete (replica: StoreReplica, key: string, call: ApiCall): Promise<ApiReply> {
    const prefix = call.query.get('prefix') === '1' || call.query.get('prefix') === 'true'
    // Read and delete in one transaction, so `deleted` counts what this delete removed.
    const before = prefix ? undefined : { type: 'get', key } as const
    const result = await this.runTxn(replica, { type: 'txn', compares: [], success: [...(before === undefined ? [] : [before]), { type: 'delete', key, prefix }], failure: [] })
    const deleted = prefix ? undefined : (result.gets[0] === null ? 0 : 1)
    return jsonReply(200, { revision: result.revision, ...(deleted === undefined ? {} : { deleted }) })
  }

  private async txn (replica: StoreReplica, call: ApiCall): Promise<ApiReply> {
    const body = readJson(call)
    const compares = arrayField(body, 'compares').map(parseCompare)
    const success = arrayField(body, 'success').map(parseOp)
    const failure = arrayField(body, 'failure').map(parseOp)
    const result = await this.runTxn(replica, { type: 'txn', compares, success, failure })
    return jsonReply(200, { revision: result.revision, succeeded: result.succeeded, gets: result.gets.map(kv => kv === null ? null : keyValueBody(kv)) })
  }

  private async runTxn (replica: StoreReplica, command: Extract<StoreCommand, { type: 'txn' }>): Promise<Extract<StoreResult, { type: 'txn' }>> {
    return expect(await replica.execute(command, this.node.requestTimeoutMs), 'txn')
  }

  private watch (replica: StoreReplica, call: ApiCall): ApiReply {
    const prefix = call.query.get('prefix') ?? ''
    const fromRevision = integerParam(call.query, 'revision', replica.state.revision + 1, 0, Number.MAX_SAFE_INTEGER)
    return { status: 200, contentType: 'application/x-ndjson', stream: watchLines(replica, prefix, fromRevision, call.signal) }
  }

  private async leaseGrant (replica: StoreReplica, call: ApiCall): Promise<ApiReply> {
    const ttlMs = integerField(readJson(call), 'ttlMs')
    for (let attempt = 0; attempt < 5; attempt++) {
      const lease = (Math.floor(Math.random() * 2 ** 47) + 1) as LeaseId
      const result = await replica.execute({ type: 'leaseGrant', lease, ttlMs }, this.node.requestTimeoutMs)
      if (result.type === 'refused' && result.reason === 'leaseExists') continue
      const granted = expect(result, 'leaseGranted')
      return jsonReply(200, { lease: granted.lease, ttlMs: granted.ttlMs })
    }
    throw new ApiFailure('ERR_INTERNAL', 'could not pick a free lease id')
  }

  private keepAlive (replica: StoreReplica, call: ApiCall): ApiReply {
    const lease = integerField(readJson(call), 'lease') as LeaseId
    const ttlMs = replica.keepAlive(lease)
    if (ttlMs === undefined) throw new ApiFailure('ERR_LEASE_NOT_FOUND', `lease ${lease} does not exist`)
    return jsonReply(200, { lease, ttlMs })
  }

  private async leaseRevoke (replica: StoreReplica, call: ApiCall): Promise<ApiReply> {
    const lease = integerField(readJson(call), 'lease') as LeaseId
    const result = expect(await replica.execute({ type: 'leaseRevoke', lease }, this.node.requestTimeoutMs), 'leaseRevoked')
    return jsonReply(200, { revision: result.revision })
  }

  private async lockAcquire (replica: StoreReplica, call: ApiCall): Promise<ApiReply> {
    const body = readJson(call)
    const name = stringField(body, 'name')
    const owner = stringField(body, 'owner')
    const lease = integerField(body, 'lease') as LeaseId
    const waitMs = Math.min(optionalInteger(body, 'waitMs') ?? 0, apiLimits.maxLockWaitMs)
    const result = await replica.execute({ type: 'lockAcquire', name, lease, owner }, this.node.requestTimeoutMs)
    if (result.type === 'lockAcquired') return jsonReply(200, lockBody(name, owner, lease, result.token))
    expect(result, 'lockQueued')
    const deadline = performance.now() + waitMs
    while (performance.now() < deadline && !call.signal.aborted) {
      const holder = replica.state.lock(name).holder
      if (holder?.owner === owner) return jsonReply(200, lockBody(name, owner, lease, holder.token))
      await replica.nextApply(deadline - performance.now(), call.signal)
    }
    // Give up the place in the queue; if the lock arrived meanwhile, this releases it again.
    await replica.execute({ type: 'lockRelease', name, owner }, this.node.requestTimeoutMs)
    const holder = replica.state.lock(name).holder
    throw new ApiFailure('ERR_LOCK_BUSY', `lock ${name} is held by ${holder?.owner ?? 'another owner'}${waitMs > 0 ? ` (waited ${waitMs} ms)` : ''}`)
  }

  private async lockRelease (replica: StoreReplica, call: ApiCall): Promise<ApiReply> {
    const body = readJson(call)
    const result = expect(await replica.execute({ type: 'lockRelease', name: stringField(body, 'name'), owner: stringField(body, 'owner') }, this.node.requestTimeoutMs), 'lockReleased')
    return jsonReply(200, { revision: result.revision })
  }

  private async barrier (replica: StoreReplica, call: ApiCall): Promise<void> {
    const stale = call.query.get('stale') === '1' || call.query.get('stale') === 'true'
    if (!stale) await replica.readBarrier(this.node.requestTimeoutMs, call.signal)
  }
}

async function * watchLines (replica: StoreReplica, prefix: string, fromRevision: number, signal: AbortSignal): AsyncIterable<Uint8Array> {
  let next = Math.max(fromRevision, 1)
  let lastProgress = performance.now()
  while (!signal.aborted) {
    const batch = replica.state.watch(prefix, next, apiLimits.watchBatch)
    if (batch.compacted) {
      yield line({ type: 'compacted', compactRevision: batch.compactRevision })
      return
    }
    for (const event of batch.events) {
      yield line({ type: event.type, key: event.key, value: Buffer.from(event.value).toString('base64'), revision: event.revision, version: event.version })
      next = event.revision + 1
    }
    if (batch.events.length > 0) {
      lastProgress = performance.now()
      continue
    }
    next = Math.max(next, replica.state.revision + 1)
    if (performance.now() - lastProgress >= apiLimits.watchProgressMs) {
      yield line({ type: 'progress', revision: replica.state.revision })
      lastProgress = performance.now()
    }
    await replica.nextChange(prefix, next, Math.max(1, apiLimits.watchProgressMs - (performance.now() - lastProgress)), signal)
  }
}

function line (value: WatchLine): Uint8Array {
  return encoder.encode(`${JSON.stringify(value)}\n`)
}

function lockBody (name: string, owner: string, lease: number, token: number): LockBody {
  return { name, owner, lease, token }
}

/** The JSON shape of a key. */
export function keyValueBody (kv: KeyValue): KeyValueBody {
  return { key: kv.key, value: Buffer.from(kv.value).toString('base64'), createRevision: kv.createRevision, modRevision: kv.modRevision, version: kv.version, lease: kv.lease }
}

const refusalCodes: Record<StoreRefusal, ApiErrorCode> = {
  leaseNotFound: 'ERR_LEASE_NOT_FOUND',
  leaseExists: 'ERR_BAD_REQUEST',
  badRequest: 'ERR_BAD_REQUEST',
  notHolder: 'ERR_NOT_HOLDER',
  staleSequence: 'ERR_INTERNAL',
  compacted: 'ERR_COMPACTED',
  futureRevision: 'ERR_BAD_REQUEST',
  limit: 'ERR_LIMIT'
}

function expect<T extends StoreResult['type']> (result: StoreResult, type: T): Extract<StoreResult, { type: T }> {
  if (result.type === 'refused') throw new ApiFailure(refusalCodes[result.reason], result.detail)
  if (result.type !== type) throw new ApiFailure('ERR_INTERNAL', `unexpected store answer ${result.type}`)
  return result as Extract<StoreResult, { type: T }>
}

/** Maps any failure to the API's error body. */
export function errorReply (error: unknown): ApiReply {
  let code: ApiErrorCode = 'ERR_INTERNAL'
  if (error instanceof ApiFailure) code = error.apiCode
  else if (error instanceof GalaxyError) code = error.code in apiErrorStatus ? error.code as ApiErrorCode : error.code === 'ERR_NOT_LEADER' ? 'ERR_NO_LEADER' : 'ERR_INTERNAL'
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? ''
  return jsonReply(apiErrorStatus[code], { error: { code, message } })
}

// ---- request parsing: every malformed field is a one-line ERR_BAD_REQUEST ----

function readJson (call: ApiCall): Record<string, unknown> {
  if (call.body.byteLength === 0) return {}
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(call.body))
  } catch {
    throw new ApiFailure('ERR_BAD_REQUEST', 'the body is not valid JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiFailure('ERR_BAD_REQUEST', 'the body must be a JSON object')
  return value as Record<string, unknown>
}

function decodeKey (parts: readonly string[]): string {
  try {
    const key = parts.map(decodeURIComponent).join('/')
    if (key === '') throw new ApiFailure('ERR_BAD_REQUEST', 'a key must not be empty')
    return key
  } catch (error) {
    if (error instanceof ApiFailure) throw error
    throw new ApiFailure('ERR_BAD_REQUEST', 'the key is not valid percent-encoding')
  }
}

function stringField (body: Record<string, unknown>, name: string): string {
  const value = body[name]
  if (typeof value !== 'string' || value === '') throw new ApiFailure('ERR_BAD_REQUEST', `"${name}" must be a non-empty string`)
  return value
}

function nodeIdField (body: Record<string, unknown>, name: string): NodeId {
  const parsed = parseNodeId(stringField(body, name))
  if (!parsed.ok) throw new ApiFailure('ERR_BAD_REQUEST', `"${name}": ${parsed.error}`)
  return parsed.value
}

function integerField (body: Record<string, unknown>, name: string): number {
  const value = body[name]
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new ApiFailure('ERR_BAD_REQUEST', `"${name}" must be a non-negative integer`)
  return value
}

function optionalInteger (body: Record<string, unknown>, name: string): number | undefined {
  return body[name] === undefined || body[name] === null ? undefined : integerField(body, name)
}

function base64Field (body: Record<string, unknown>, name: string): Uint8Array {
  const value = body[name]
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new ApiFailure('ERR_BAD_REQUEST', `"${name}" must be base64`)
  return new Uint8Array(Buffer.from(value, 'base64'))
}

function arrayField (body: Record<string, unknown>, name: string): Array<Record<string, unknown>> {
  const value = body[name] ?? []
  if (!Array.isArray(value) || !value.every(item => typeof item === 'object' && item !== null)) throw new ApiFailure('ERR_BAD_REQUEST', `"${name}" must be an array of objects`)
  return value as Array<Record<string, unknown>>
}

function integerParam (query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const text = query.get(name)
  if (text === null || text === '') return fallback
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new ApiFailure('ERR_BAD_REQUEST', `${name} must be an integer from ${min} to ${max}`)
  return value
}

const compareOps: ReadonlySet<string> = new Set(['=', '!=', '<', '>'])

function parseCompare (body: Record<string, unknown>): Compare {
  const raw = body as Partial<CompareBody>
  const key = typeof raw.key === 'string' ? raw.key : ''
  if (key === '') throw new ApiFailure('ERR_BAD_REQUEST', 'a compare needs a key')
  if (typeof raw.op !== 'string' || !compareOps.has(raw.op)) throw new ApiFailure('ERR_BAD_REQUEST', 'a compare op is one of = != < >')
  const op = raw.op
  if (raw.target === 'value') return { target: 'value', key, op, value: base64Field(body, 'value') }
  if (raw.target === 'version' || raw.target === 'createRevision' || raw.target === 'modRevision') return { target: raw.target, key, op, value: integerField(body, 'value') }
  throw new ApiFailure('ERR_BAD_REQUEST', 'a compare target is value, version, createRevision or modRevision')
}

function parseOp (body: Record<string, unknown>): TxnOp {
  const raw = body as Partial<TxnOpBody>
  const key = typeof raw.key === 'string' ? raw.key : undefined
  if (key === undefined) throw new ApiFailure('ERR_BAD_REQUEST', 'an operation needs a key')
  switch (raw.type) {
    case 'get': return { type: 'get', key }
    case 'delete': return { type: 'delete', key, prefix: body.prefix === true }
    case 'put': {
      const lease = optionalInteger(body, 'lease')
      const value = base64Field(body, 'value')
      return lease === undefined ? { type: 'put', key, value } : { type: 'put', key, value, lease }
    }
    default: throw new ApiFailure('ERR_BAD_REQUEST', 'an operation type is put, delete or get')
  }
}
