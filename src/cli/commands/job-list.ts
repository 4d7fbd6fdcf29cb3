import { Command } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { formatAgo } from '../api-format.js'
import { writeJson, writeTable } from '../output.js'

/** `galaxy job list`: every job, one line each. */
export class JobListCommand extends ApiCommand {
  static override paths = [['job', 'list'], ['job', 'ls']]

  static override usage = Command.Usage({
    description: 'List the jobs',
    details: `
      One row per job: its type, state (pending, running, updating, paused, destroying,
      finished), current version, how many of its pods serve (run the current version and are
      healthy) out of the replica it wants, how many are placed on a node, and when it last changed.
    `,
    examples: [['List the jobs', 'galaxy job list'], ['As JSON', 'galaxy job list --json']]
  })

  protected async run (): Promise<undefined> {
    const body = await new ApiClient(this.apiTarget()).jobs()
    if (this.json) {
      writeJson(this.context.stdout, body)
      return undefined
    }
    if (body.jobs.length === 0) {
      this.context.stderr.write('no jobs\n')
      return undefined
    }
    const nowMs = Date.now()
    const jobs = [...body.jobs].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    writeTable(this.context.stdout, ['NAME', 'TYPE', 'STATE', 'VERSION', 'PODS', 'PLACED', 'UPDATED'], jobs.map(job => [
      job.name, job.type, job.state, job.version, `${job.serving}/${job.replica}`, String(job.placed), formatAgo(nowMs - job.updatedAtMs)
    ]))
    return undefined
  }
}
