/**
 * The HTTP/JSON API every node serves on `--api` (default 127.0.0.1:1646): the shapes of its
 * request and response bodies, shared by the server (`server.ts`) and the client the CLI uses
 * (`client.ts`). Every request carries `Authorization: Bearer <admin token>`.
 *
 * Values travel base64-encoded (`value`), as in etcd's JSON gateway, so binary values survive.
 * Keys are UTF-8 strings and go in the path, percent-encoded.
 *
 * Routes (all under /v1):
 *   GET    /status                          → StatusBody
 *   GET    /members                         → { members: MemberBody[] }
 *   GET    /nodes                           → { nodes: NodeBody[] }
 *   GET    /agent                           → AgentBody: this node's agent (404 on a node without the role)
 *   GET    /agent/containers/<id>/logs[?task=T][&stream=stdout|stderr][&tail=BYTES][&follow=1]
 *                                            → text/plain stream of a task's log on this node
 *   GET    /kv/<key>[?stale=1]              → { kv: KeyValueBody | null, revision }
 *   GET    /kv?prefix=P[&after=K][&limit=N][&stale=1] → { items: KeyValueBody[], more, revision }
 *   PUT    /kv/<key>  { value, lease? }     → { revision }
 *   DELETE /kv/<key>[?prefix=1]             → { revision, deleted }
 *   POST   /txn  TxnBody                    → TxnResultBody
 *   GET    /watch?prefix=P[&revision=R]     → NDJSON stream of WatchLine, one per line, until the client closes;
 *                                              events from revision R on (inclusive), or from now on without R
 *   POST   /compact { revision }            → { revision }: the watch history up to `revision` is forgotten
 *   POST   /lease/grant  { ttlMs }          → { lease, ttlMs }
 *   POST   /lease/keepalive { lease }       → { lease, ttlMs }
 *   POST   /lease/revoke { lease }          → { revision }
 *   POST   /lock/acquire { name, owner, lease, waitMs? } → LockBody (acquired, or 409 `lockBusy` after waitMs)
 *   POST   /lock/release { name, owner }    → { revision }
 *   GET    /operator/raft/peers             → { peers: MemberBody[] }
 *   POST   /operator/raft/remove-peer { id } → { ok: true }
 *   POST   /operator/raft/transfer-leader { id? } → { leader }
 *   GET    /operator/snapshot               → the snapshot bytes (application/octet-stream)
 *   POST   /operator/snapshot/restore (body: snapshot bytes) → { revision }
 *
 * Errors answer a non-2xx status with ErrorBody; `code` is stable, `message` is one line.
 */

import type { ContainerRecord } from '../../roles/agent/agent-controller.js'
import type { AgentReport } from '../../roles/agent/agent-report.js'
import type { PodStatus } from '../../roles/appworker/pod-status.js'

/** Every failure the API answers. */
export interface ErrorBody {
  readonly error: { readonly code: ApiErrorCode, readonly message: string }
}

/** The stable error codes of the API, and the HTTP status each goes with. */
export const apiErrorStatus = {
  ERR_UNAUTHORIZED: 401,
  ERR_BAD_REQUEST: 400,
  ERR_NOT_FOUND: 404,
  ERR_LOCK_BUSY: 409,
  ERR_NOT_HOLDER: 409,
  ERR_LEASE_NOT_FOUND: 404,
  ERR_COMPACTED: 410,
  ERR_LIMIT: 413,
  ERR_NO_LEADER: 503,
  /** The call needs a peer this node has no connection to. */
  ERR_UNREACHABLE: 503,
  ERR_TIMEOUT: 504,
  ERR_INTERNAL: 500
} as const

export type ApiErrorCode = keyof typeof apiErrorStatus

/** One key as the API shows it. */
export interface KeyValueBody {
  readonly key: string
  /** base64 */
  readonly value: string
  readonly createRevision: number
  readonly modRevision: number
  readonly version: number
  readonly lease: number
}

/** One Raft member as the API shows it. */
export interface MemberBody {
  readonly id: string
  readonly name: string
  readonly suffrage: 'voter' | 'learner'
  readonly address: string
  readonly leader: boolean
  /** The leader's replication progress of this member (0 when not known here). */
  readonly match: number
  /** Alive, suspect or dead by gossip; `unknown` before any report arrived. */
  readonly health: 'alive' | 'suspect' | 'dead' | 'unknown'
}

/** `galaxy status`. */
export interface StatusBody {
  readonly clusterId: string
  readonly node: { readonly id: string, readonly name: string, readonly seed: boolean }
  readonly leader: { readonly id: string, readonly name: string } | null
  readonly term: number
  readonly commit: number
  readonly applied: number
  readonly revision: number
  readonly members: readonly MemberBody[]
  /** `healthy` when a leader is known and a quorum of voters is alive by gossip; `degraded` when some voter is not alive; `unavailable` without a leader. */
  readonly health: 'healthy' | 'degraded' | 'unavailable'
}

/** One node of `galaxy node list`. */
export interface NodeBody {
  readonly id: string
  readonly name: string
  readonly addresses: readonly string[]
  readonly roles: readonly string[]
  readonly pool: string
  readonly labels: Readonly<Record<string, string>>
  /** `leader`, `follower`, `learner` (a seed catching up) or `none` (not a Raft member). */
  readonly raftRole: 'leader' | 'follower' | 'learner' | 'none'
  readonly state: 'alive' | 'suspect' | 'dead'
  /** Milliseconds since this node's last report, as seen by the answering node. */
  readonly lastSeenMs: number
  readonly capacity: { readonly cpuCores: number, readonly memoryBytes: number, readonly diskBytes: number }
  readonly uptimeMs: number
  /** A summary of the node's agent report; null when the node reports no agent (or was not heard from). */
  readonly agent: {
    readonly isolation: AgentReport['isolation']
    readonly health: AgentReport['health']
    readonly problems: readonly string[]
    readonly allocated: AgentReport['allocated']
    readonly reserved: AgentReport['reserved']
    readonly usage: AgentReport['usage']
    /** How many containers the report lists: fewer than the node holds when gossip had to cut the list. */
    readonly containers: number
  } | null
}

/** A condition of a transaction (see the store's `Compare`); `value` is base64 when `target` is `value`. */
export interface CompareBody {
  readonly key: string
  readonly target: 'value' | 'version' | 'createRevision' | 'modRevision'
  readonly op: '=' | '!=' | '<' | '>'
  readonly value: string | number
}

/** An operation of a transaction; `value` is base64. */
export type TxnOpBody =
  | { readonly type: 'put', readonly key: string, readonly value: string, readonly lease?: number }
  | { readonly type: 'delete', readonly key: string, readonly prefix?: boolean }
  | { readonly type: 'get', readonly key: string }

export interface TxnBody {
  readonly compares: readonly CompareBody[]
  readonly success: readonly TxnOpBody[]
  readonly failure: readonly TxnOpBody[]
}

export interface TxnResultBody {
  readonly revision: number
  readonly succeeded: boolean
  readonly gets: ReadonlyArray<KeyValueBody | null>
}

/** `POST /lock/acquire` answer: the fencing token increases with every new holder of any lock. */
export interface LockBody {
  readonly name: string
  readonly owner: string
  readonly lease: number
  readonly token: number
}

/** One line of a watch stream. */
export type WatchLine =
  | { readonly type: 'put' | 'delete', readonly key: string, readonly value: string, readonly revision: number, readonly version: number }
  /** The requested revision was compacted away; resume from `compactRevision` + 1 after a fresh read. */
  | { readonly type: 'compacted', readonly compactRevision: number }
  /** Sent every few seconds without events, so the client sees the stream is alive; `revision` is the store's current revision. */
  | { readonly type: 'progress', readonly revision: number }

/** `GET /agent`: the agent of the node asked (not forwarded): its gossip report and its containers. */
export interface AgentBody {
  readonly report: AgentReport
  readonly containers: ReadonlyArray<ContainerRecord & { readonly status: PodStatus | null }>
}
