import { parseJobId, type ContainerId, type JobId, type NodeId } from '../../lib/ids.js'
import { placementKey } from '../../roles/agent/placement.js'
import { encodeJobRecord, jobKey, operateJob, parseJobRecord, type JobOperation, type JobRecord } from '../../roles/job/job-record.js'
import { parseJobSpec } from '../../roles/job/job-spec.js'
import { isServing } from '../../roles/job/pod-record.js'
import { parseUnplacedRecord, unplacedKey } from '../../roles/resman/unplaced.js'
import { lockKey } from '../../store/state-machine.js'
import { jsonReply, type ApiCall, type ApiReply } from '../api/call.js'
import type { EndpointBody, JobOperationBody, JobPodBody, JobStatusBody, JobSummaryBody, NamingBody } from '../api/job-wire.js'
import { ApiFailure } from '../api/router.js'
import type { RouterStore } from '../router-store.js'
import { readJobs, readNodes, readPlacements, readPodRecords } from './cluster-reads.js'
import { appMasterLockOf } from './node-appmasters.js'
import { versionOf } from './job-version.js'

/** Named bounds of the job API. */
export const jobApiLimits = {
  /** Attempts of a read-modify-write of a job record that others write at the same time. */
  writeAttempts: 5,
  specBytes: 1024 * 1024
} as const

const decoder = new TextDecoder()

/**
 * The job, pod and naming routes of the API (`job-wire.ts`), served by any node over the store:
 * a user's operation is a read of the job record, `operateJob`, and a write that succeeds only if
 * the record did not change meanwhile (else it is tried again).
 */
export class JobApi {
  constructor (private readonly deps: {
    readonly store: RouterStore
    readonly self: NodeId
    /** A call to another node's API, by its id (over the cluster network). */
    readonly callNode: (node: NodeId, call: ApiCall) => Promise<ApiReply>
    /** This node's own router, for calls about its own containers. */
    readonly handleHere: (call: ApiCall) => Promise<ApiReply>
  }) {}

  async handle (call: ApiCall): Promise<ApiReply> {
    const [, section, name, action, ...rest] = call.path.split('/').filter(part => part !== '').map(decodeURIComponent)
    if (call.method === 'GET' && section === 'naming' && rest.length === 0) return jsonReply(200, await this.naming(jobName(name), action))
    const route = `${call.method} ${section ?? ''}${name === undefined ? '' : '/:'}${action === undefined ? '' : `/${action}`}${rest.length > 0 ? '/…' : ''}`
    switch (route) {
      case 'POST jobs': return jsonReply(200, await this.submit(call, undefined))
      case 'GET jobs': return jsonReply(200, { jobs: await this.list() })
      case 'GET jobs/:': return jsonReply(200, await this.status(jobName(name)))
      case 'GET jobs/:/history': return jsonReply(200, { history: (await this.read(jobName(name))).record.history })
      case 'POST jobs/:/update': return jsonReply(200, await this.submit(call, jobName(name)))
      case 'POST jobs/:/pause':
      case 'POST jobs/:/cancel':
      case 'POST jobs/:/rollback':
      case 'POST jobs/:/stop':
      case 'POST jobs/:/remove':
        return jsonReply(200, await this.operate(jobName(name), { type: action as 'pause' }))
      case 'POST jobs/:/continue': {
        const breakpoint = readBody(call).breakpoint
        if (breakpoint !== undefined && breakpoint !== null && typeof breakpoint !== 'number') throw new ApiFailure('ERR_BAD_REQUEST', 'breakpoint must be a number')
        return jsonReply(200, await this.operate(jobName(name), { type: 'continue', breakpoint: breakpoint ?? undefined }))
      }
      case 'POST jobs/:/scale': {
        const replica = readBody(call).replica
        if (typeof replica !== 'number') throw new ApiFailure('ERR_BAD_REQUEST', 'replica must be a number')
        return jsonReply(200, await this.operate(jobName(name), { type: 'scale', replica }))
      }
      case 'GET pods/:/logs': return await this.podLogs(name ?? '', call)
      case 'POST pods/:/restart': return jsonReply(200, await this.restartPod(name ?? ''))
      default:
        throw new ApiFailure('ERR_NOT_FOUND', `no such route: ${call.method} ${call.path}`)
    }
  }

  private async submit (call: ApiCall, expected: JobId | undefined): Promise<JobOperationBody> {
    const body = readBody(call)
    if (typeof body.spec !== 'string') throw new ApiFailure('ERR_BAD_REQUEST', 'the body needs the spec as text (YAML or JSON)')
    if (body.spec.length > jobApiLimits.specBytes) throw new ApiFailure('ERR_BAD_REQUEST', `a job spec is at most ${jobApiLimits.specBytes} bytes`)
    for (const field of ['step', 'breakpoint'] as const) {
      if (body[field] !== undefined && body[field] !== null && typeof body[field] !== 'number') throw new ApiFailure('ERR_BAD_REQUEST', `${field} must be a number`)
    }
    const parsed = parseJobSpec(body.spec)
    if (!parsed.ok) throw new ApiFailure('ERR_BAD_REQUEST', `the job spec is not valid: ${parsed.error.join('; ')}`)
    const spec = parsed.value
    if (expected !== undefined) {
      if (spec.name !== expected) throw new ApiFailure('ERR_BAD_REQUEST', `the spec is for job ${spec.name}, not ${expected}`)
      await this.read(expected)
    }
    return await this.operate(spec.name as JobId, { type: 'submit', version: versionOf(spec), step: (body.step as number | undefined) ?? undefined, breakpoint: (body.breakpoint as number | undefined) ?? undefined })
  }

  /** Reads, operates and writes back unless the record changed meanwhile; then again. */
  private async operate (name: JobId, operation: JobOperation): Promise<JobOperationBody> {
    for (let attempt = 0; attempt < jobApiLimits.writeAttempts; attempt++) {
      const stored = await this.deps.store.get(jobKey(name))
      const record = stored === undefined ? undefined : parseJobRecord(stored.value)
      if (stored !== undefined && record === undefined) throw new ApiFailure('ERR_BAD_REQUEST', `the record of job ${name} in the store is not a job record`)
      if (record === undefined && operation.type !== 'submit') throw new ApiFailure('ERR_NOT_FOUND', `no job named ${name}`)
      const result = operateJob(record, operation, Date.now())
      if (!result.ok) throw new ApiFailure('ERR_BAD_REQUEST', result.error)
      if (record !== undefined && sameJob(record, result.value)) return { job: record, created: false, changed: false }
      const written = await this.deps.store.txn(
        [{ target: 'modRevision', key: jobKey(name), op: '=', value: stored?.modRevision ?? 0 }],
        [{ type: 'put', key: jobKey(name), value: encodeJobRecord(result.value) }])
      if (written.succeeded) return { job: result.value, created: record === undefined, changed: true }
    }
    throw new ApiFailure('ERR_TIMEOUT', `job ${name} kept changing while it was being written; try again`)
  }

  private async read (name: JobId): Promise<{ record: JobRecord, modRevision: number }> {
    const stored = await this.deps.store.get(jobKey(name))
    const record = stored === undefined ? undefined : parseJobRecord(stored.value)
    if (stored === undefined || record === undefined) throw new ApiFailure('ERR_NOT_FOUND', `no job named ${name}`)
    return { record, modRevision: stored.modRevision }
  }

  private async list (): Promise<JobSummaryBody[]> {
    const [jobs, placements, pods] = await Promise.all([readJobs(this.deps.store), readPlacements(this.deps.store), readPodRecords(this.deps.store)])
    return jobs.map(({ record }) => ({
      name: record.name,
      type: record.current.spec.type,
      state: record.state,
      version: record.current.version,
      replica: record.replica,
      placed: placements.filter(each => each.placement.job === record.name).length,
      serving: pods.filter(pod => pod.job === record.name && pod.version === record.current.podVersion && isServing(pod)).length,
      updatedAtMs: record.updatedAtMs
    }))
  }

  private async status (name: JobId): Promise<JobStatusBody> {
    const { record } = await this.read(name)
    const [placements, pods, nodes, unplaced, holder] = await Promise.all([
      readPlacements(this.deps.store), readPodRecords(this.deps.store, name), readNodes(this.deps.store, { stale: true }),
      this.deps.store.get(unplacedKey(name)), this.deps.store.get(lockKey(appMasterLockOf(name)))
    ])
    const nodeName = new Map(nodes.map(node => [node.id, node.name]))
    const records = new Map(pods.map(pod => [pod.pod, pod]))
    const podBodies: JobPodBody[] = placements.filter(each => each.placement.job === name).map(({ node, placement }) => {
      const status = records.get(placement.pod)
      return { pod: placement.pod, container: placement.container, node, nodeName: nodeName.get(node) ?? node, status: status?.container === placement.container ? status : null }
    }).sort((a, b) => a.pod.localeCompare(b.pod, 'en', { numeric: true }))
    const unplacedRecord = unplaced === undefined ? undefined : parseUnplacedRecord(unplaced.value)
    return { job: record, pods: podBodies, unplaced: unplacedRecord ?? null, appMaster: holder === undefined ? null : decoder.decode(holder.value) }
  }

  private async naming (name: JobId, service: string | undefined): Promise<NamingBody> {
    const { record } = await this.read(name)
    const services = record.current.spec.pod.services
    const wanted = service === undefined ? undefined : services.find(each => each.name === service)
    if (service !== undefined && wanted === undefined) throw new ApiFailure('ERR_NOT_FOUND', `job ${name} has no service ${service} (it has ${services.map(each => each.name).join(', ') || 'none'})`)
    const pods = (await readPodRecords(this.deps.store, name)).filter(isServing)
    const endpoints: EndpointBody[] = pods.map(pod => ({
      pod: pod.pod,
      node: pod.node,
      host: pod.host,
      port: wanted === undefined ? Object.values(pod.ports)[0] ?? 0 : pod.ports[wanted.port] ?? 0,
      ports: pod.ports,
      version: pod.version
    })).sort((a, b) => a.pod.localeCompare(b.pod, 'en', { numeric: true }))
    return { job: name, service: service ?? null, endpoints }
  }

  private async podPlacement (pod: string): Promise<{ node: NodeId, container: ContainerId, job: JobId }> {
    const found = (await readPlacements(this.deps.store)).find(each => each.placement.pod === pod)
    if (found === undefined) throw new ApiFailure('ERR_NOT_FOUND', `no pod ${pod} is placed on a node`)
    return { node: found.node, container: found.placement.container, job: found.placement.job }
  }

  private async podLogs (pod: string, call: ApiCall): Promise<ApiReply> {
    const { node, container } = await this.podPlacement(pod)
    const query = call.query.toString()
    const path = `/v1/agent/containers/${encodeURIComponent(container)}/logs${query === '' ? '' : `?${query}`}`
    const url = new URL(path, 'http://galaxy')
    // Named fields, not a spread: a call's signal is a getter on its class, which a spread leaves out.
    const forwarded: ApiCall = { method: call.method, path: url.pathname, query: url.searchParams, body: call.body, internal: call.internal, hops: call.hops, signal: call.signal }
    return node === this.deps.self ? await this.deps.handleHere(forwarded) : await this.deps.callNode(node, forwarded)
  }

  /** Deletes the pod's placement: its container is stopped and the ResMan places the pod again. */
  private async restartPod (pod: string): Promise<{ pod: string, container: string }> {
    const { node, container } = await this.podPlacement(pod)
    await this.deps.store.txn([], [{ type: 'delete', key: placementKey(node, container) }])
    return { pod, container }
  }
}

function jobName (text: string | undefined): JobId {
  const parsed = parseJobId(text ?? '')
  if (!parsed.ok) throw new ApiFailure('ERR_BAD_REQUEST', parsed.error)
  return parsed.value
}

function readBody (call: ApiCall): Record<string, unknown> {
  if (call.body.byteLength === 0) return {}
  try {
    const body = JSON.parse(decoder.decode(call.body)) as unknown
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as Record<string, unknown>
  } catch {}
  throw new ApiFailure('ERR_BAD_REQUEST', 'the body must be a JSON object')
}

/** Whether two records say the same but for when they were written. */
function sameJob (a: JobRecord, b: JobRecord): boolean {
  const bare = (record: JobRecord): string => JSON.stringify({ ...record, history: [], updatedAtMs: 0, current: { ...record.current, submittedAtMs: 0 } })
  return bare(a) === bare(b)
}
