import { Command } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import type { NodeBody } from '../../node/api/wire.js'
import { ApiCommand } from '../api-command.js'
import { displayValue, formatAgo } from '../api-format.js'
import { writeJson, writeTable } from '../output.js'

/** `galaxy node list`: every node of the cluster, seed or not. */
export class NodeListCommand extends ApiCommand {
  static override paths = [['node', 'list'], ['node', 'ls']]

  static override usage = Command.Usage({
    description: 'List the nodes of the cluster',
    details: `
      One row per node gossip knows: its addresses, roles, pool, labels, its part in Raft (leader,
      follower, learner or none), whether it is alive, suspect or dead, how long ago the
      answering node last heard from it, and what its agent reports: isolation (full or
      degraded), health (an unhealthy node shows its first problem) and how many containers it
      lists; \`-\` on a node without the agent role. \`--json\` has the agent's totals too.
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
    writeTable(this.context.stdout, ['NAME', 'ID', 'ADDRESS', 'ROLES', 'POOL', 'LABELS', 'RAFT', 'STATE', 'LAST-SEEN', 'ISOLATION', 'HEALTH', 'CONTAINERS'], body.nodes.map(node => [
      node.name,
      node.id,
      list(node.addresses),
      list(node.roles),
      node.pool,
      list(Object.entries(node.labels).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([name, value]) => `${name}=${value}`)),
      node.raftRole,
      node.state,
      formatAgo(node.lastSeenMs),
      node.agent?.isolation ?? '-',
      formatHealth(node.agent),
      node.agent === null ? '-' : String(node.agent.containers)
    ]))
    return undefined
  }
}

/** How much of an unhealthy node's first problem the HEALTH column shows. */
const problemDisplayChars = 40

/** `healthy`, or `unhealthy (<first problem, cut>)`; `-` without an agent. */
function formatHealth (agent: NodeBody['agent']): string {
  if (agent === null) return '-'
  const problem = agent.problems[0]
  if (agent.health === 'healthy' || problem === undefined) return agent.health
  // displayValue escapes control characters: the text comes from the node's gossip report.
  return `${agent.health} (${displayValue(new TextEncoder().encode(problem), problemDisplayChars)})`
}
