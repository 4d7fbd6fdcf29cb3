import type { NodeId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import type { PlacementSource } from '../../roles/agent/agent-controller.js'
import { checkPlacement, nodePlacementsPrefix, type Placement } from '../../roles/agent/placement.js'
import { internalCall, type ApiCall, type ApiReply } from '../api/call.js'
import type { KeyValueBody } from '../api/wire.js'
import { decodePlacement } from './placement-codec.js'

/** Bounds of reading placements. */
export const placementReadLimits = {
  pageSize: 1000,
  /** How long a watch that ended waits before it is opened again. */
  rewatchMs: 1000
} as const

/**
 * This node's placements, read from the store through the node's own router (served here on a
 * voting seed, forwarded otherwise) with a linearizable read: a stale one could hide a placement
 * the last read showed and stop its container for nothing. A placement that does not decode or
 * check is left out and logged once.
 */
export class StorePlacements implements PlacementSource {
  private readonly reported = new Set<string>()

  constructor (private readonly options: {
    readonly node: NodeId
    readonly handle: (call: ApiCall) => Promise<ApiReply>
    readonly logger: Logger
  }) {}

  async list (): Promise<Placement[]> {
    const prefix = nodePlacementsPrefix(this.options.node)
    const placements: Placement[] = []
    let after: string | undefined
    for (;;) {
      const query = new URLSearchParams({ prefix, limit: String(placementReadLimits.pageSize), ...(after === undefined ? {} : { after }) })
      const reply = await this.options.handle(internalCall('GET', `/v1/kv?${query.toString()}`, undefined))
      if (!('body' in reply)) throw new Error('the store answered a range with a stream')
      const body = JSON.parse(new TextDecoder().decode(reply.body)) as { items?: KeyValueBody[], more?: boolean, error?: { message?: string } }
      if (reply.status !== 200 || body.items === undefined) throw new Error(`cannot read the placements: ${body.error?.message ?? `status ${reply.status}`}`)
      for (const item of body.items) {
        const placement = this.parse(item)
        if (placement !== undefined) placements.push(placement)
      }
      if (body.more !== true || body.items.length === 0) return placements
      after = body.items[body.items.length - 1]?.key
    }
  }

  /**
   * Calls `changed` whenever a placement of this node is written or deleted, until `signal`
   * aborts; a watch that ends is opened again.
   */
  async watch (changed: () => void, signal: AbortSignal): Promise<void> {
    const prefix = nodePlacementsPrefix(this.options.node)
    while (!signal.aborted) {
      try {
        const reply = await this.options.handle(internalCall('GET', `/v1/watch?${new URLSearchParams({ prefix }).toString()}`, undefined, signal))
        if ('stream' in reply && reply.status === 200) {
          for await (const chunk of reply.stream) if (chunk.byteLength > 0) changed()
        }
      } catch (error) {
        this.options.logger.debug('placement watch ended', { error: (error as Error).message })
      }
      await new Promise(resolve => setTimeout(resolve, placementReadLimits.rewatchMs))
    }
  }

  private parse (item: KeyValueBody): Placement | undefined {
    try {
      const placement = decodePlacement(Buffer.from(item.value, 'base64'))
      const problem = checkPlacement(placement) ?? (item.key.endsWith(`/${placement.container}`) ? undefined : `it names container ${placement.container}`)
      if (problem === undefined) {
        this.reported.delete(item.key)
        return placement
      }
      this.refuse(item.key, problem)
    } catch (error) {
      this.refuse(item.key, (error as Error).message)
    }
    return undefined
  }

  private refuse (key: string, problem: string): void {
    if (this.reported.has(key)) return
    this.reported.add(key)
    this.options.logger.warn('ignoring a placement that is not valid', { key, problem })
  }
}
