import type { Brand } from './brand.js'
import { err, ok, type Result } from './result.js'

/** A node's libp2p peer id, printed in base58btc; stable for as long as the node keeps its data dir. */
export type NodeId = Brand<string, 'NodeId'>
/** A job's name, unique in the cluster; also its DNS-style service name. */
export type JobId = Brand<string, 'JobId'>
/** One instance of a job. */
export type PodId = Brand<string, 'PodId'>
/** One process of a pod, named in the job spec. */
export type TaskId = Brand<string, 'TaskId'>
/** An agent's resource envelope for one pod; a pod recreated for a resource change gets a new one. */
export type ContainerId = Brand<string, 'ContainerId'>
/** A hard partition of nodes; every node belongs to exactly one. */
export type PoolName = Brand<string, 'PoolName'>

/** The rules each kind of id must meet, so an id that parsed is safe in paths, keys and DNS. */
const idRules = {
  NodeId: { pattern: /^[1-9A-HJ-NP-Za-km-z]+$/, maxLength: 128, rule: 'base58btc characters' },
  JobId: { pattern: /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, maxLength: 63, rule: 'lower-case letters, digits and inner dashes' },
  PodId: { pattern: /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, maxLength: 80, rule: 'lower-case letters, digits, inner dots and dashes' },
  ContainerId: { pattern: /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, maxLength: 100, rule: 'lower-case letters, digits, inner dots and dashes' },
  TaskId: { pattern: /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, maxLength: 63, rule: 'lower-case letters, digits and inner dashes' },
  PoolName: { pattern: /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, maxLength: 63, rule: 'lower-case letters, digits and inner dashes' }
} as const

type IdKind = keyof typeof idRules
type IdOf<K extends IdKind> = Brand<string, K>

function parseId<K extends IdKind> (kind: K, text: string): Result<IdOf<K>> {
  const { pattern, maxLength, rule } = idRules[kind]
  if (text.length === 0) return err(`${kind} must not be empty`)
  if (text.length > maxLength) return err(`${kind} "${text}" is longer than ${maxLength} characters`)
  if (!pattern.test(text)) return err(`${kind} "${text}" must use only ${rule}`)
  return ok(text as IdOf<K>)
}

/** Checks a node id; the error says which rule it breaks. */
export function parseNodeId (text: string): Result<NodeId> { return parseId('NodeId', text) }
/** Checks a job name; the error says which rule it breaks. */
export function parseJobId (text: string): Result<JobId> { return parseId('JobId', text) }
/** Checks a container id; the error says which rule it breaks. */
export function parseContainerId (text: string): Result<ContainerId> { return parseId('ContainerId', text) }
/** Checks a pod id; the error says which rule it breaks. */
export function parsePodId (text: string): Result<PodId> { return parseId('PodId', text) }
/** Checks a task name; the error says which rule it breaks. */
export function parseTaskId (text: string): Result<TaskId> { return parseId('TaskId', text) }
/** Checks a pool name; the error says which rule it breaks. */
export function parsePoolName (text: string): Result<PoolName> { return parseId('PoolName', text) }
