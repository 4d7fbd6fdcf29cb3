import { Command, Option } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { nonEmpty } from '../flags.js'
import { writeJson } from '../output.js'
import { raftPeerId } from '../raft-peer.js'

/** `galaxy operator raft transfer-leader [PEER]`: hands leadership to another voter (by id or node name). */
export class OperatorRaftTransferLeaderCommand extends ApiCommand {
  static override paths = [['operator', 'raft', 'transfer-leader']]

  static override usage = Command.Usage({
    description: 'Hand Raft leadership to another voter',
    details: 'To the voter PEER (its id or its node name, as `galaxy operator raft list-peers` shows them), or without it to the one the leader picks (the most caught up), for example before taking the leader down.',
    examples: [['Move leadership off this node', 'galaxy operator raft transfer-leader'], ['To a given voter', 'galaxy operator raft transfer-leader seed-2'], ['By id', 'galaxy operator raft transfer-leader 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN']]
  })

  peer = Option.String({ name: 'peer', required: false })

  protected async run (): Promise<undefined> {
    const client = new ApiClient(this.apiTarget())
    const id = this.peer === undefined ? undefined : await raftPeerId(client, nonEmpty('PEER', this.peer))
    const body = await client.transferLeader(id)
    if (this.json) {
      writeJson(this.context.stdout, body)
      return undefined
    }
    const leader = typeof body.leader === 'string' ? body.leader : `${body.leader.name} (${body.leader.id})`
    this.context.stdout.write(`leadership transferred to ${leader}\n`)
    return undefined
  }
}
