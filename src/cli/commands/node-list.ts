import { Command } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { formatAgo } from '../api-format.js'
import { writeJson, writeTable } from '../output.js'

/** `galaxy node list`: every node of the cluster, seed or not. */
export class NodeListCommand extends ApiCommand {
  static override paths = [['node', 'list'], ['node', 'ls']]

  static override usage = Command.Usage({
    description: 'List the nodes of the cluster',
    details: `
      One row per node gossip knows: its addresses, roles, pool, labels, its part in Raft (leader,
      follower, learner or none), whether it is alive, suspect or dead, and how long ago the
      answering node last heard from it.
    `,
    examples: [['List the nodes', 'galaxy node list'], ['As JSON', 'galaxy node list --json']]
  })

  protected async run (): Promise<undefined> {
    const body = await new ApiClient(this.apiTarget()).nodes()
    if (this.json) {
      writeJson(this.context.stdout, body)
      return undefined
    }
    const list = (items: readonly string[]): string => items.length === 0 ? '-' : items.join(',')
    writeTable(this.context.stdout, ['NAME', 'ID', 'ADDRESS', 'ROLES', 'POOL', 'LABELS', 'RAFT', 'STATE', 'LAST-SEEN'], body.nodes.map(node => [
      node.name,
      node.id,
      list(node.addresses),
      list(node.roles),
      node.pool,
      list(Object.entries(node.labels).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([name, value]) => `${name}=${value}`)),
      node.raftRole,
      node.state,
      formatAgo(node.lastSeenMs)
    ]))
    return undefined
  }
}
