import { Command } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { memberHeaders, memberRow } from '../api-format.js'
import { writeJson, writeTable } from '../output.js'

/** `galaxy status`: the cluster as the node answering sees it. */
export class StatusCommand extends ApiCommand {
  static override paths = [['status']]

  static override usage = Command.Usage({
    description: 'Show the cluster: its leader, Raft progress, health and members',
    details: `
      Asks one node (--addr) for the cluster id, which node it is, the leader and term, the Raft
      commit and applied indexes, the store's revision and the cluster's health (healthy, degraded
      when a voter is not alive, unavailable without a leader), then lists the Raft members.
    `,
    examples: [['Show the cluster', 'galaxy status'], ['As JSON', 'galaxy status --json']]
  })

  protected async run (): Promise<undefined> {
    const status = await new ApiClient(this.apiTarget()).status()
    if (this.json) {
      writeJson(this.context.stdout, status)
      return undefined
    }
    const named = ({ id, name }: { id: string, name: string }): string => `${name} (${id})`
    writeTable(this.context.stdout, [], [
      ['Cluster ID', status.clusterId],
      ['Node', `${named(status.node)}${status.node.seed ? ', seed' : ''}`],
      ['Leader', status.leader === null ? 'none' : named(status.leader)],
      ['Term', String(status.term)],
      ['Commit index', String(status.commit)],
      ['Applied index', String(status.applied)],
      ['Revision', String(status.revision)],
      ['Health', status.health]
    ])
    this.context.stdout.write('\n')
    writeTable(this.context.stdout, memberHeaders, status.members.map(memberRow))
    return undefined
  }
}
