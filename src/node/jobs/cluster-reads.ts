import type { JobId, NodeId } from '../../lib/ids.js'
import { checkPlacement, placementsPrefix, type Placement } from '../../roles/agent/placement.js'
import { jobsPrefix, parseJobRecord, type JobRecord } from '../../roles/job/job-record.js'
import { jobPodsPrefix, parsePodRecord, podsPrefix, type PodRecord } from '../../roles/job/pod-record.js'
import { decodePlacement } from '../agent/placement-codec.js'
import { nodesPrefix, readRecord, type NodeRecord } from '../node-record.js'
import type { RouterStore, StoredValue } from '../router-store.js'

/** A placement as stored, with the node it is for and the revision that wrote it. */
export interface StoredPlacement {
  readonly node: NodeId
  readonly placement: Placement
  readonly modRevision: number
}

/**
 * The reads of cluster state that the ResMan, the AppMasters and the job API share: every record
 * under a prefix, parsed; what does not parse is left out (and left to whoever owns it).
 */
export async function readJobs (store: RouterStore): Promise<Array<{ record: JobRecord, modRevision: number }>> {
  return parsed(await store.list(jobsPrefix), value => parseJobRecord(value.value), (record, value) => ({ record, modRevision: value.modRevision }))
}

/** Every placement in the store (a full scan: clusters of up to a few hundred nodes). */
export async function readPlacements (store: RouterStore): Promise<StoredPlacement[]> {
  return parsed(await store.list(placementsPrefix), value => {
    const node = value.key.slice(placementsPrefix.length).split('/')[0] as NodeId
    try {
      const placement = decodePlacement(value.value)
      return checkPlacement(placement) === undefined && value.key === `${placementsPrefix}${node}/${placement.container}` ? { node, placement } : undefined
    } catch {
      return undefined
    }
  }, (found, value) => ({ ...found, modRevision: value.modRevision }))
}

/** The pod records of one job, or of every job. */
export async function readPodRecords (store: RouterStore, job?: JobId): Promise<PodRecord[]> {
  return parsed(await store.list(job === undefined ? podsPrefix : jobPodsPrefix(job)), value => parsePodRecord(value.value), record => record)
}

/** The node registry. */
export async function readNodes (store: RouterStore, options: { stale?: boolean } = {}): Promise<NodeRecord[]> {
  return parsed(await store.list(nodesPrefix, options), value => readRecord(value.value), record => record)
}

function parsed<P, T> (values: readonly StoredValue[], parse: (value: StoredValue) => P | undefined, shape: (found: P, value: StoredValue) => T): T[] {
  const out: T[] = []
  for (const value of values) {
    const found = parse(value)
    if (found !== undefined) out.push(shape(found, value))
  }
  return out
}
