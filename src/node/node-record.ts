import { parseNodeId } from '../lib/ids.js'
import { ApiFailure } from './api/router.js'

/** A node as the store's registry keeps it, under `galaxy/nodes/<id>`. */
export interface NodeRecord {
  readonly id: string
  readonly name: string
  readonly addresses: readonly string[]
  readonly api: string
  readonly roles: readonly string[]
  readonly pool: string
  readonly labels: Readonly<Record<string, string>>
  readonly seed: boolean
}

/** Where the registry of nodes lives in the store. */
export const nodesPrefix = 'galaxy/nodes/'

/** A registry record, or undefined when what is stored there is not one (the prefix is writable through the API). */
export function readRecord (bytes: Uint8Array): NodeRecord | undefined {
  try {
    return parseNodeRecord(JSON.parse(new TextDecoder().decode(bytes)))
  } catch {
    return undefined
  }
}

/** A node record from a join request or the store; `ApiFailure` (bad request) when it is not one. */
export function parseNodeRecord (body: unknown): NodeRecord {
  const value = body as Partial<NodeRecord>
  const strings = (list: unknown): boolean => Array.isArray(list) && list.every(item => typeof item === 'string')
  if (typeof value !== 'object' || value === null || typeof value.id !== 'string' || !parseNodeId(value.id).ok ||
    typeof value.name !== 'string' || !strings(value.addresses) || !strings(value.roles) || typeof value.pool !== 'string' ||
    typeof value.seed !== 'boolean' || typeof value.api !== 'string' || typeof value.labels !== 'object' || value.labels === null) {
    throw new ApiFailure('ERR_BAD_REQUEST', 'a join request needs id, name, addresses, api, roles, pool, labels and seed')
  }
  return { id: value.id, name: value.name, addresses: value.addresses ?? [], api: value.api, roles: value.roles ?? [], pool: value.pool, labels: value.labels ?? {}, seed: value.seed }
}
