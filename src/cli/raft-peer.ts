import type { ApiClient } from '../node/api/client.js'
import { UsageError } from '../lib/errors.js'

/**
 * The id of the Raft peer an operator named: `peer` itself when it is a peer's id, else the id of
 * the one peer with that node name (as `galaxy operator raft list-peers` shows both). Anything
 * else goes to the node as given, which names what is wrong with it.
 */
export async function raftPeerId (client: ApiClient, peer: string): Promise<string> {
  const { peers } = await client.raftPeers()
  if (peers.some(candidate => candidate.id === peer)) return peer
  const named = peers.filter(candidate => candidate.name === peer)
  if (named.length > 1) throw new UsageError(`${named.length} peers are named ${peer}; give the id of one (galaxy operator raft list-peers)`)
  return named[0]?.id ?? peer
}
