import type { ContainerId } from '../../lib/ids.js'
import { fits, type Capacity, type Request } from './allocation.js'

/** A container the cluster wants on this node (from the placements in the store). */
export interface DesiredContainer {
  readonly id: ContainerId
  /** The job version the container is for; a change alone is handled in place by the AppWorker. */
  readonly version: string
  /** Identifies the resource envelope; a different one means the container must be made again. */
  readonly envelope: string
  readonly request: Request
}

/** A container this node has, as its local database and the host report it. */
export interface ActualContainer {
  readonly id: ContainerId
  readonly envelope: string
  readonly request: Request
  /**
   * `running`: its root process (the AppWorker) is alive. `dead`: the root process is gone and the
   * container must be cleaned up. `failed`: cleaned up after a failure, kept as a record so that it
   * is reported, not made again (the ResMan places the pod anew).
   */
  readonly state: 'running' | 'dead' | 'failed'
}

/** What the controller does, in order; every action is idempotent. */
export type AgentAction =
  | { readonly type: 'create', readonly container: DesiredContainer }
  | { readonly type: 'destroy', readonly id: ContainerId, readonly reason: 'unwanted' | 'envelope changed' | 'root process died' }
  | { readonly type: 'refuse', readonly id: ContainerId, readonly reason: string }
  | { readonly type: 'forget', readonly id: ContainerId }

/**
 * Compares what the cluster wants on this node with what it has (level-triggered: the whole of
 * both, every time) and says what to do. Destroys come first so that their room counts for the
 * creates of the same round; a create that does not fit what is left is refused with a reason.
 */
export function reconcileContainers (desired: readonly DesiredContainer[], actual: readonly ActualContainer[], capacity: Capacity): AgentAction[] {
  const wanted = new Map(desired.map(container => [container.id, container]))
  const actions: AgentAction[] = []
  const kept: Request[] = []
  const have = new Set<ContainerId>()
  for (const container of actual) {
    const want = wanted.get(container.id)
    if (container.state === 'failed') {
      if (want === undefined) actions.push({ type: 'forget', id: container.id })
      else have.add(container.id)
      continue
    }
    if (container.state === 'dead') {
      actions.push({ type: 'destroy', id: container.id, reason: 'root process died' })
      have.add(container.id)
    } else if (want === undefined) {
      actions.push({ type: 'destroy', id: container.id, reason: 'unwanted' })
    } else if (want.envelope !== container.envelope) {
      // Made again once the old one is gone: the next round sees it missing.
      actions.push({ type: 'destroy', id: container.id, reason: 'envelope changed' })
      have.add(container.id)
    } else {
      kept.push(container.request)
      have.add(container.id)
    }
  }
  for (const container of desired) {
    if (have.has(container.id)) continue
    const fit = fits(capacity, kept, container.request)
    if (fit.ok) {
      actions.push({ type: 'create', container })
      kept.push(container.request)
    } else {
      actions.push({ type: 'refuse', id: container.id, reason: fit.reason })
    }
  }
  return actions
}
