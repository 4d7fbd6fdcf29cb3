import { Command } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { writeJson, writeTable } from '../output.js'

/** `galaxy operator raft list-peers`: the Raft configuration. */
export class OperatorRaftListPeersCommand extends ApiCommand {
  static override paths = [['operator', 'raft', 'list-peers']]

  static override usage = Command.Usage({
    description: 'List the Raft peers and their state',
    details: 'STATE is leader or follower (learner for a non-voting member catching up); MATCH is the log index the leader knows each has.',
    examples: [['List the peers', 'galaxy operator raft list-peers']]
  })

  protected async run (): Promise<undefined> {
    const body = await new ApiClient(this.apiTarget()).raftPeers()
    if (this.json) {
      writeJson(this.context.stdout, body)
      return undefined
    }
    writeTable(this.context.stdout, ['NAME', 'ID', 'ADDRESS', 'STATE', 'VOTER', 'MATCH', 'HEALTH'], body.peers.map(peer => [
      peer.name,
      peer.id,
      peer.address,
      peer.leader ? 'leader' : peer.suffrage === 'learner' ? 'learner' : 'follower',
      String(peer.suffrage === 'voter'),
      String(peer.match),
      peer.health
    ]))
    return undefined
  }
}
