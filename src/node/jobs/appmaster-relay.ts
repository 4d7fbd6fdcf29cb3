import type { JobId, NodeId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import type { PodDirector } from '../../roles/agent/agent-controller.js'
import type { Placement } from '../../roles/agent/placement.js'
import type { PodCommand, PodStatus } from '../../roles/appworker/pod-status.js'
import { jobKey } from '../../roles/job/job-record.js'
import { placementShape } from '../../roles/job/pod-of-spec.js'
import { lockKey } from '../../store/state-machine.js'
import { internalCall, type ApiCall, type ApiReply } from '../api/call.js'
import type { RouterStore } from '../router-store.js'
import { appMasterLockOf, type RelayedPodPull } from './node-appmasters.js'

/** Named timings of relaying pulls. */
export const relayTimings = {
  /** How long where a job's AppMaster is stays known before it is read again. */
  lookupMs: 5000,
  /** The most a relayed pull may take; the pod waits when its AppMaster does not answer in time. */
  answerMs: 2000
} as const

interface Lookup {
  /** Whether the cluster has a job of that name; a placement of no job runs as written. */
  readonly known: boolean
  readonly holder: NodeId | undefined
  readonly atMs: number
}

/**
 * The agent's `PodDirector` on a node: it relays each pod's pull to the AppMaster of its job —
 * this node's own, or another node's over the cluster network (`POST /v1/internal/pull`) — and
 * answers `wait` (the pod carries on as it is) when no AppMaster can answer. Where each job's
 * AppMaster is comes from its lock holder in the store, read again every few seconds or after a
 * failure.
 */
export class AppMasterRelay implements PodDirector {
  private readonly lookups = new Map<JobId, Lookup>()

  constructor (private readonly deps: {
    readonly store: RouterStore
    readonly self: NodeId
    /** Where this node's pods are reached: the node's address. */
    readonly host: string
    readonly local: (pull: RelayedPodPull) => PodCommand
    readonly callNode: (node: NodeId, call: ApiCall, timeoutMs: number) => Promise<ApiReply>
    readonly logger: Logger
  }) {}

  async direct (placement: Placement, status: PodStatus): Promise<PodCommand | undefined> {
    const lookup = await this.lookup(placement.job).catch(() => undefined)
    if (lookup === undefined) return { type: 'wait' }
    if (!lookup.known) return undefined
    if (lookup.holder === undefined) return { type: 'wait' }
    const pull: RelayedPodPull = {
      job: placement.job,
      pod: placement.pod,
      container: placement.container,
      node: this.deps.self,
      host: this.deps.host,
      ports: Object.fromEntries(placement.ports.map(port => [port.name, port.port])),
      shape: placementShape(placement),
      status
    }
    try {
      if (lookup.holder === this.deps.self) return this.deps.local(pull)
      const reply = await this.deps.callNode(lookup.holder, internalCall('POST', '/v1/internal/pull', pull), relayTimings.answerMs)
      if (!('body' in reply)) throw new Error('a pull answered with a stream')
      const body = JSON.parse(new TextDecoder().decode(reply.body)) as { command?: PodCommand, error?: { message?: string } }
      if (reply.status !== 200 || body.command === undefined) throw new Error(body.error?.message ?? `status ${reply.status}`)
      return body.command
    } catch (error) {
      this.lookups.delete(placement.job)
      this.deps.logger.debug('relaying a pull failed', { job: placement.job, appMaster: lookup.holder, error: (error as Error).message })
      return { type: 'wait' }
    }
  }

  private async lookup (job: JobId): Promise<Lookup> {
    const nowMs = Date.now()
    const known = this.lookups.get(job)
    if (known !== undefined && nowMs - known.atMs < relayTimings.lookupMs && (known.holder !== undefined || !known.known)) return known
    const [record, holder] = await Promise.all([
      this.deps.store.get(jobKey(job), { stale: true }),
      this.deps.store.get(lockKey(appMasterLockOf(job)), { stale: true })
    ])
    const found: Lookup = { known: record !== undefined, holder: holder === undefined ? undefined : new TextDecoder().decode(holder.value) as NodeId, atMs: nowMs }
    this.lookups.set(job, found)
    return found
  }
}
