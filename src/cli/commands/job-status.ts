import { Command, Option } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { formatAgo } from '../api-format.js'
import { nonEmpty } from '../flags.js'
import { byPodIndex, podHeaders, podRow, unplacedLine } from '../job-format.js'
import { writeJson, writeTable } from '../output.js'

/** `galaxy job status JOB`: a job, its pods, and why pods could not be placed. */
export class JobStatusCommand extends ApiCommand {
  static override paths = [['job', 'status']]

  static override usage = Command.Usage({
    description: 'Show a job and its pods',
    details: `
      Prints the job (state, version and the version its pods should run, replica, update step and
      breakpoint, and the node whose AppMaster drives it), then one row per pod: its node, state
      (\`placed\` until its AppMaster hears from it), the version it runs (\`(old)\` when it is not
      the current one), restarts, health and its latest problem. When the ResMan could not place
      some pods, a last line says how many and how many nodes each filter excluded.
    `,
    examples: [['Show web', 'galaxy job status web'], ['As JSON', 'galaxy job status web --json']]
  })

  job = Option.String({ name: 'job' })

  protected async run (): Promise<undefined> {
    const status = await new ApiClient(this.apiTarget()).job(nonEmpty('JOB', this.job))
    if (this.json) {
      writeJson(this.context.stdout, status)
      return undefined
    }
    const job = status.job
    const out = this.context.stdout
    writeTable(out, [], [
      ['Name', job.name],
      ['Type', job.current.spec.type],
      ['State', job.state],
      ['Version', `${job.current.version} (pods run ${job.current.podVersion})`],
      ['Replica', String(job.replica)],
      ['Step', String(job.step)],
      ['Breakpoint', job.breakpoint === null ? 'none' : String(job.breakpoint)],
      ['AppMaster', status.appMaster ?? 'none']
    ])
    out.write('\n')
    if (status.pods.length === 0) out.write('no pods placed\n')
    else writeTable(out, podHeaders, [...status.pods].sort(byPodIndex).map(pod => podRow(job, pod)))
    if (status.unplaced !== null && status.unplaced.pods > 0) {
      out.write(`\n${unplacedLine(status.unplaced)} (${formatAgo(Date.now() - status.unplaced.atMs)})\n`)
    }
    return undefined
  }
}
