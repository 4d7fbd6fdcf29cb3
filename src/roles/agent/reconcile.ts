import type { ContainerId } from '../../lib/ids.js'
import { fits, type Capacity, type Request } from './allocation.js'

/** A container the cluster wants on this node (from the placements in the store). */
export interface DesiredContainer {
  readonly id: ContainerId
  /** Identifies the resource envelope; a different one means the container must be made again. */
  readonly envelope: string
  /** Identifies what the pod runs; a change alone is handed to the AppWorker, which rebuilds in place. */
  readonly description: string
  readonly request: Request
}

/**
 * Where a container of this node is. `creating`: recorded before it is made, so that a crash
 * half-way is cleaned up. `running`: its root process (the AppWorker) is alive. `stopping`: its
 * AppWorker was told to stop the tasks, gracefully. `dead`: the root process is gone (or stopped
 * pulling) and the container must be cleaned up. `failed`: cleaned up after a failure, kept as a record so that it
 * is reported, not made again (the ResMan places the pod anew).
 */
export type ContainerState = 'creating' | 'running' | 'stopping' | 'dead' | 'failed'

/** A container this node has, as its local database and the host report it. */
export interface ActualContainer {
  readonly id: ContainerId
  readonly envelope: string
  readonly description: string
  readonly request: Request
  readonly state: ContainerState
  /** For a `stopping` one: its tasks stopped, or the time it was given ran out. */
  readonly stopDone: boolean
}

/** What the controller does, in order; every action is idempotent. */
export type AgentAction =
  | { readonly type: 'create', readonly id: ContainerId }
  | { readonly type: 'update', readonly id: ContainerId }
  | { readonly type: 'stop', readonly id: ContainerId, readonly reason: 'unwanted' | 'envelope changed' }
  | { readonly type: 'destroy', readonly id: ContainerId, readonly reason: 'stopped' | 'root process lost' | 'half made' }
  | { readonly type: 'refuse', readonly id: ContainerId, readonly reason: string }
  | { readonly type: 'forget', readonly id: ContainerId }

/**
 * Compares what the cluster wants on this node with what it has (level-triggered: the whole of
 * both, every time) and says what to do. A container that must go is stopped gracefully first and
 * destroyed once its tasks stopped (or its time ran out); a changed envelope goes the same way and
 * is made again in a later round. A container holds its room until it is destroyed, so that a
 * create never counts on room still in use; a create that does not fit is refused with a reason.
 */
export function reconcileContainers (desired: readonly DesiredContainer[], actual: readonly ActualContainer[], capacity: Capacity): AgentAction[] {
  const wanted = new Map(desired.map(container => [container.id, container]))
  const actions: AgentAction[] = []
  const kept: Request[] = []
  const have = new Set<ContainerId>()
  for (const container of actual) {
    const want = wanted.get(container.id)
    have.add(container.id)
    switch (container.state) {
      case 'failed':
        if (want === undefined) actions.push({ type: 'forget', id: container.id })
        break
      case 'dead':
        actions.push({ type: 'destroy', id: container.id, reason: 'root process lost' })
        break
      case 'creating':
        // Made again in a later round, whole, if still wanted.
        actions.push({ type: 'destroy', id: container.id, reason: 'half made' })
        break
      case 'stopping':
        if (container.stopDone) actions.push({ type: 'destroy', id: container.id, reason: 'stopped' })
        else kept.push(container.request)
        break
      case 'running':
        kept.push(container.request)
        if (want === undefined) actions.push({ type: 'stop', id: container.id, reason: 'unwanted' })
        else if (want.envelope !== container.envelope) actions.push({ type: 'stop', id: container.id, reason: 'envelope changed' })
        else if (want.description !== container.description) actions.push({ type: 'update', id: container.id })
        break
    }
  }
  for (const container of desired) {
    if (have.has(container.id)) continue
    const fit = fits(capacity, kept, container.request)
    if (fit.ok) {
      actions.push({ type: 'create', id: container.id })
      kept.push(container.request)
    } else {
      actions.push({ type: 'refuse', id: container.id, reason: fit.reason })
    }
  }
  return actions
}
