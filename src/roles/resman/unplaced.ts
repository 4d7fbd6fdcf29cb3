import type { JobId } from '../../lib/ids.js'
import type { FilterName } from './scheduler/snapshot.js'

/** Where the active ResMan says which jobs have pods it cannot place: `galaxy/unplaced/<job>`, JSON. */
export const unplacedPrefix = 'galaxy/unplaced/'

/** The store key of one job's placement failures. */
export function unplacedKey (job: JobId): string {
  return `${unplacedPrefix}${job}`
}

/** A job's pods that no node can take, and per filter how many nodes excluded them, at the ResMan's last try. */
export interface UnplacedRecord {
  readonly pods: number
  readonly excluded: Readonly<Partial<Record<FilterName, number>>>
  readonly atMs: number
}

/** The record in a stored value, or undefined when it is not one. */
export function parseUnplacedRecord (bytes: Uint8Array): UnplacedRecord | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as Partial<UnplacedRecord>
    if (!Number.isSafeInteger(value.pods) || typeof value.excluded !== 'object' || value.excluded === null || typeof value.atMs !== 'number') return undefined
    return value as UnplacedRecord
  } catch {
    return undefined
  }
}
