import type { Brand } from '../lib/brand.js'
import type { StoreData } from './state-machine.js'

/** A lease's id, chosen by the client that grants it (unique per cluster, checked when granted). */
export type LeaseId = Brand<number, 'LeaseId'>

/** The latest version of a key. */
export interface KeyValue {
  readonly key: string
  readonly value: Uint8Array
  /** The revision that created the key (it was absent just before). */
  readonly createRevision: number
  /** The revision that last wrote it. */
  readonly modRevision: number
  /** How many times it was written since it was created: 1 after creation. */
  readonly version: number
  /** The lease the key dies with, or 0. */
  readonly lease: number
}

/** A condition of a transaction, on one key as it is before the transaction. An absent key has version, createRevision and modRevision 0. */
export type Compare =
  | { readonly target: 'value', readonly key: string, readonly op: CompareOp, readonly value: Uint8Array }
  | { readonly target: 'version' | 'createRevision' | 'modRevision', readonly key: string, readonly op: CompareOp, readonly value: number }

export type CompareOp = '=' | '!=' | '<' | '>'

/** A write or read inside a transaction. */
export type TxnOp =
  | { readonly type: 'put', readonly key: string, readonly value: Uint8Array, readonly lease?: number }
  | { readonly type: 'delete', readonly key: string, readonly prefix?: boolean }
  | { readonly type: 'get', readonly key: string }

/** What the store applies, in log order. Every command carries the client session that sent it. */
export type StoreCommand =
  | { readonly type: 'txn', readonly compares: readonly Compare[], readonly success: readonly TxnOp[], readonly failure: readonly TxnOp[] }
  | { readonly type: 'leaseGrant', readonly lease: LeaseId, readonly ttlMs: number }
  | { readonly type: 'leaseRevoke', readonly lease: LeaseId }
  /** Proposed by the leader when a lease's TTL ran out on its clock without a keep-alive. */
  | { readonly type: 'leaseExpire', readonly lease: LeaseId }
  | { readonly type: 'lockAcquire', readonly name: string, readonly lease: LeaseId, readonly owner: string }
  | { readonly type: 'lockRelease', readonly name: string, readonly owner: string }
  | { readonly type: 'compact', readonly revision: number }
  /** Replaces keys, leases and locks with those of `data` (a backup), at a revision above both; sessions stay. */
  | { readonly type: 'restore', readonly data: StoreData }

/** A command with the session that makes a retry apply once (Raft thesis §6.3). */
export interface SessionCommand {
  readonly client: string
  /** Increases by one per command of the client; a command with a seen sequence is answered from the session. */
  readonly sequence: number
  readonly command: StoreCommand
}

/** What applying a command answered. Refusals are answers too: they change nothing. */
export type StoreResult =
  | { readonly type: 'txn', readonly revision: number, readonly succeeded: boolean, readonly gets: ReadonlyArray<KeyValue | null> }
  | { readonly type: 'leaseGranted', readonly lease: LeaseId, readonly ttlMs: number }
  | { readonly type: 'leaseRevoked', readonly lease: LeaseId, readonly revision: number }
  | { readonly type: 'lockAcquired', readonly name: string, readonly token: number }
  | { readonly type: 'lockQueued', readonly name: string, readonly position: number }
  | { readonly type: 'lockReleased', readonly name: string, readonly revision: number }
  | { readonly type: 'compacted', readonly revision: number }
  | { readonly type: 'restored', readonly revision: number }
  | { readonly type: 'refused', readonly reason: StoreRefusal, readonly detail: string }

export type StoreRefusal = 'leaseNotFound' | 'leaseExists' | 'badRequest' | 'notHolder' | 'staleSequence' | 'compacted' | 'futureRevision' | 'limit'

/** One change, as a watcher sees it. */
export interface WatchEvent {
  readonly type: 'put' | 'delete'
  readonly revision: number
  readonly key: string
  /** The new value (empty for a delete). */
  readonly value: Uint8Array
  readonly version: number
}
