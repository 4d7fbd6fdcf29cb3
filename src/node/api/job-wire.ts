/**
 * The job, pod and naming part of the HTTP/JSON API (see `wire.ts` for the rest and for errors).
 * Any node serves it; it reads and writes the store through the node's router.
 *
 * Routes (all under /v1):
 *   POST   /jobs  JobSubmitBody             → JobOperationBody: creates the job, or updates it (same name)
 *   GET    /jobs                            → { jobs: JobSummaryBody[] }
 *   GET    /jobs/<job>                      → JobStatusBody
 *   GET    /jobs/<job>/history              → { history: JobEvent[] } (job-record.ts)
 *   POST   /jobs/<job>/update JobSubmitBody → JobOperationBody (the job must exist; the spec must name it)
 *   POST   /jobs/<job>/pause | /cancel | /rollback | /stop | /remove  {}  → JobOperationBody
 *   POST   /jobs/<job>/continue { breakpoint? } → JobOperationBody
 *   POST   /jobs/<job>/scale { replica }    → JobOperationBody
 *   GET    /naming/<job>[/<service>]        → NamingBody: the pods in service and their endpoints
 *   GET    /pods/<pod>/logs[?task=T][&stream=stdout|stderr][&tail=BYTES][&follow=1]
 *                                            → text/plain stream, from the pod's node
 *   POST   /pods/<pod>/restart {}           → { pod, container }: the pod gets a new container
 *
 * A spec that is not valid answers 400 ERR_BAD_REQUEST whose message lists every problem,
 * `path: rule`, separated by `; `; nothing is created.
 */

import type { FilterName } from '../../roles/resman/scheduler/snapshot.js'
import type { JobRecord, JobState } from '../../roles/job/job-record.js'
import type { PodRecord } from '../../roles/job/pod-record.js'

/** `POST /jobs` and `POST /jobs/<job>/update`: the spec as the user wrote it (YAML or JSON text). */
export interface JobSubmitBody {
  readonly spec: string
  /** Overrides the spec's `deploy.step` for this update. */
  readonly step?: number
  /** Overrides the spec's `deploy.breakpoint` for this update. */
  readonly breakpoint?: number
}

/** The job after an operation; `changed` is false when the operation asked for what already was. */
export interface JobOperationBody {
  readonly job: JobRecord
  readonly created: boolean
  readonly changed: boolean
}

/** One line of `GET /jobs`. */
export interface JobSummaryBody {
  readonly name: string
  readonly type: string
  readonly state: JobState
  readonly version: string
  readonly replica: number
  /** Pods placed on a node. */
  readonly placed: number
  /** Pods running the current version and healthy. */
  readonly serving: number
  readonly updatedAtMs: number
}

/** One pod of `GET /jobs/<job>`: its placement, and its AppMaster's record of it when there is one. */
export interface JobPodBody {
  readonly pod: string
  readonly container: string
  readonly node: string
  /** The node's name, or its id when it is not in the registry. */
  readonly nodeName: string
  /** What its AppMaster last heard; null before its first pull. */
  readonly status: PodRecord | null
}

/** Pods no node could take, and per filter how many nodes excluded them (the ResMan's last try). */
export interface UnplacedBody {
  readonly pods: number
  readonly excluded: Readonly<Partial<Record<FilterName, number>>>
  readonly atMs: number
}

/** `GET /jobs/<job>`. */
export interface JobStatusBody {
  readonly job: JobRecord
  readonly pods: readonly JobPodBody[]
  readonly unplaced: UnplacedBody | null
  /** The node whose AppMaster drives the job, or null when none holds it. */
  readonly appMaster: string | null
}

/** One endpoint of `GET /naming/<job>[/<service>]`. */
export interface EndpointBody {
  readonly pod: string
  readonly node: string
  readonly host: string
  /** The service's port, or, for the whole job, the pod's first port (0 when it has none). */
  readonly port: number
  readonly ports: Readonly<Record<string, number>>
  readonly version: string
}

/** `GET /naming/<job>[/<service>]`: the pods in service (running and healthy). */
export interface NamingBody {
  readonly job: string
  readonly service: string | null
  readonly endpoints: readonly EndpointBody[]
}
