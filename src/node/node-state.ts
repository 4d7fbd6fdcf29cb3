import { readFile } from 'node:fs/promises'
import { GalaxyError } from '../lib/errors.js'
import { writeSecretFile } from './net/identity.js'

/** A seed as a node remembers it, to reach the cluster again after a restart. */
export interface KnownSeed {
  readonly id: string
  readonly addresses: readonly string[]
}

/** What a node keeps about its membership in `<data>/node.json`. */
export interface NodeState {
  readonly clusterId: string
  /** Joined as a seed (runs Raft) or as a node that forwards. */
  readonly seed: boolean
  readonly seeds: readonly KnownSeed[]
}

/** Reads `<data>/node.json`; undefined for a data dir that never joined a cluster. */
export async function readNodeState (path: string): Promise<NodeState | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new GalaxyError('ERR_DATA_DIR', `cannot read ${path}`, { cause: error })
  }
  try {
    const value = JSON.parse(text) as Partial<NodeState>
    if (typeof value.clusterId !== 'string' || typeof value.seed !== 'boolean' || !Array.isArray(value.seeds)) throw new Error('missing fields')
    return { clusterId: value.clusterId, seed: value.seed, seeds: value.seeds }
  } catch (error) {
    throw new GalaxyError('ERR_DATA_DIR', `${path} is not a galaxy node state file`, { cause: error })
  }
}

/** Writes `<data>/node.json` atomically. */
export async function writeNodeState (path: string, state: NodeState): Promise<void> {
  await writeSecretFile(path, `${JSON.stringify(state, null, 2)}\n`)
}
