import type { NodeId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import type { PlacementSource } from '../../roles/agent/agent-controller.js'
import { checkPlacement, nodePlacementsPrefix, type Placement } from '../../roles/agent/placement.js'
import type { ApiCall, ApiReply } from '../api/call.js'
import { RouterStore, type StoredValue } from '../router-store.js'
import { decodePlacement } from './placement-codec.js'

/**
 * This node's placements, read from the store through the node's own router (served here on a
 * voting seed, forwarded otherwise) with a linearizable read: a stale one could hide a placement
 * the last read showed and stop its container for nothing. A placement that does not decode or
 * check is left out and logged once.
 */
export class StorePlacements implements PlacementSource {
  private readonly reported = new Set<string>()
  private readonly store: RouterStore

  constructor (private readonly options: {
    readonly node: NodeId
    readonly handle: (call: ApiCall) => Promise<ApiReply>
    readonly logger: Logger
  }) {
    this.store = new RouterStore(options.handle)
  }

  async list (signal: AbortSignal): Promise<Placement[]> {
    const placements: Placement[] = []
    for (const item of await this.store.list(nodePlacementsPrefix(this.options.node), { signal })) {
      const placement = this.parse(item)
      if (placement !== undefined) placements.push(placement)
    }
    return placements
  }

  /**
   * Calls `changed` whenever a placement of this node is written or deleted, until `signal`
   * aborts; a watch that ends is opened again.
   */
  async watch (changed: () => void, signal: AbortSignal): Promise<void> {
    await this.store.watch(nodePlacementsPrefix(this.options.node), changed, signal)
  }

  private parse (item: StoredValue): Placement | undefined {
    try {
      const placement = decodePlacement(item.value)
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
