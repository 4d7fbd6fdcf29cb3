import type { NodeId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import { randomInt } from '../../lib/rng.js'
import { SystemRng } from '../../runtime/system-rng.js'
import { jsonReply, type ApiCall, type ApiReply } from '../api/call.js'
import { ApiFailure } from '../api/router.js'
import type { LivenessEntry } from '../gossip/liveness.js'
import { RouterStore } from '../router-store.js'
import { AppMasterRelay } from './appmaster-relay.js'
import { JobApi } from './job-api.js'
import { NodeAppMasters, type RelayedPodPull } from './node-appmasters.js'
import { NodeResMan } from './node-resman.js'
import { RoleLease } from './role-lease.js'

/** Container id suffixes: 6 base-36 characters. */
function newSuffix (rng: SystemRng): string {
  let text = ''
  for (let index = 0; index < 6; index++) text += randomInt(rng, 0, 36).toString(36)
  return text
}

/**
 * The job side of a node: the job API (every node), the relay of its pods' pulls (every node
 * with the agent role), and, by its roles, the ResMan and the AppMasters, which share one role
 * lease. Made before the agent (which needs the relay), started once gossip runs.
 */
export class JobRoles {
  readonly relay: AppMasterRelay
  private readonly api: JobApi
  private readonly lease: RoleLease
  private readonly appMasters: NodeAppMasters | undefined
  private readonly resman: NodeResMan | undefined

  constructor (options: {
    readonly self: NodeId
    readonly roles: readonly string[]
    /** The node's address, where its pods' ports are reached. */
    readonly host: string
    readonly handle: (call: ApiCall) => Promise<ApiReply>
    readonly callNode: (node: NodeId, call: ApiCall, timeoutMs: number) => Promise<ApiReply>
    readonly gossip: () => readonly LivenessEntry[]
    readonly deadAfterMs: number
    readonly requestTimeoutMs: number
    readonly logger: Logger
  }) {
    const { self, logger } = options
    const store = new RouterStore(options.handle)
    this.lease = new RoleLease(store, logger.child({ component: 'role-lease' }))
    this.api = new JobApi({ store, self, handleHere: options.handle, callNode: async (node, call) => await options.callNode(node, call, options.requestTimeoutMs) })
    if (options.roles.includes('appmaster')) {
      this.appMasters = new NodeAppMasters({
        store,
        lease: this.lease,
        self,
        appMasterNodes: () => options.gossip().filter(entry => entry.state === 'alive' && entry.report.roles.includes('appmaster')).map(entry => entry.report.id),
        logger: logger.child({ component: 'appmaster' })
      })
    }
    if (options.roles.includes('resman')) {
      const rng = new SystemRng()
      this.resman = new NodeResMan({ store, lease: this.lease, self, gossip: options.gossip, deadAfterMs: options.deadAfterMs, newSuffix: () => newSuffix(rng), logger: logger.child({ component: 'resman' }) })
    }
    const appMasters = this.appMasters
    this.relay = new AppMasterRelay({
      store,
      self,
      host: options.host,
      local: pull => {
        if (appMasters === undefined) throw new ApiFailure('ERR_NOT_HOLDER', 'this node runs no AppMaster')
        return appMasters.pull(pull)
      },
      callNode: options.callNode,
      logger: logger.child({ component: 'relay' })
    })
  }

  start (): void {
    this.lease.start()
    this.appMasters?.start()
    this.resman?.start()
  }

  /** Ends the roles; `revoke: false` leaves their lease to expire (no quorum is in reach to commit a revoke). */
  async stop (options: { readonly revoke: boolean } = { revoke: true }): Promise<void> {
    this.resman?.stop()
    this.appMasters?.stop()
    await this.lease.stop(options)
  }

  /** The job, naming and pod routes of the API. */
  async handle (call: ApiCall): Promise<ApiReply> {
    return await this.api.handle(call)
  }

  /** `POST /v1/internal/pull`: a pod's pull relayed by its node to this node's AppMaster. */
  pull (body: unknown): ApiReply {
    if (this.appMasters === undefined) throw new ApiFailure('ERR_NOT_HOLDER', 'this node runs no AppMaster')
    const pull = body as Partial<RelayedPodPull>
    const strings = [pull.job, pull.pod, pull.container, pull.node, pull.host, pull.shape].every(field => typeof field === 'string')
    if (!strings || typeof pull.ports !== 'object' || pull.ports === null || typeof pull.status !== 'object' || pull.status === null || !Array.isArray(pull.status.tasks)) {
      throw new ApiFailure('ERR_BAD_REQUEST', 'a relayed pull needs job, pod, container, node, host, ports, shape and status')
    }
    return jsonReply(200, { command: this.appMasters.pull(pull as RelayedPodPull) })
  }
}
