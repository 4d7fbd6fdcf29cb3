import { Command, Option } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { nonEmpty } from '../flags.js'
import { writeJson } from '../output.js'

/** `galaxy operator raft remove-peer ID`: takes a member out of the Raft configuration. */
export class OperatorRaftRemovePeerCommand extends ApiCommand {
  static override paths = [['operator', 'raft', 'remove-peer']]

  static override usage = Command.Usage({
    description: 'Remove a peer from the Raft configuration',
    details: 'For a seed that is gone for good; a removed leader steps down. Take the id from `galaxy operator raft list-peers`.',
    examples: [['Remove a dead seed', 'galaxy operator raft remove-peer 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN']]
  })

  id = Option.String({ name: 'id' })

  protected async run (): Promise<undefined> {
    const id = nonEmpty('ID', this.id)
    const body = await new ApiClient(this.apiTarget()).removePeer(id)
    if (this.json) writeJson(this.context.stdout, body)
    else this.context.stdout.write(`removed peer ${id}\n`)
    return undefined
  }
}
