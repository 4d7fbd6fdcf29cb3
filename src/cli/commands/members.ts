import { Command } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { memberHeaders, memberRow } from '../api-format.js'
import { writeJson, writeTable } from '../output.js'

/** `galaxy members`: the Raft members and how far each has replicated. */
export class MembersCommand extends ApiCommand {
  static override paths = [['members']]

  static override usage = Command.Usage({
    description: 'List the Raft members (the seed nodes)',
    details: `
      One row per member: its suffrage (voter or learner), address, whether it leads, the log
      index the leader knows it has (MATCH; 0 when the answering node is not the leader) and its
      health by gossip.
    `,
    examples: [['List the members', 'galaxy members']]
  })

  protected async run (): Promise<undefined> {
    const body = await new ApiClient(this.apiTarget()).members()
    if (this.json) writeJson(this.context.stdout, body)
    else writeTable(this.context.stdout, memberHeaders, body.members.map(memberRow))
    return undefined
  }
}
