import { Command, Option } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { nonEmpty } from '../flags.js'
import { writeJson } from '../output.js'
import { raftPeerId } from '../raft-peer.js'

/** `galaxy operator raft remove-peer PEER`: takes a member (by id or node name) out of the Raft configuration. */
export class OperatorRaftRemovePeerCommand extends ApiCommand {
  static override paths = [['operator', 'raft', 'remove-peer']]

  static override usage = Command.Usage({
    description: 'Remove a peer from the Raft configuration',
    details: 'For a seed that is gone for good; a removed leader steps down. PEER is its id or its node name, as `galaxy operator raft list-peers` shows them.',
    examples: [['Remove a dead seed', 'galaxy operator raft remove-peer seed-3'], ['By id', 'galaxy operator raft remove-peer 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN']]
  })

  peer = Option.String({ name: 'peer' })

  protected async run (): Promise<undefined> {
    const client = new ApiClient(this.apiTarget())
    const id = await raftPeerId(client, nonEmpty('PEER', this.peer))
    const body = await client.removePeer(id)
    if (this.json) writeJson(this.context.stdout, body)
    else this.context.stdout.write(`removed peer ${id}\n`)
    return undefined
  }
}
