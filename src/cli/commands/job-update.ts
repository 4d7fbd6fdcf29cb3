import { Command, Option } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { nonEmpty } from '../flags.js'
import { operationLine } from '../job-format.js'
import { SpecCommand } from '../job-submit.js'
import { writeJson } from '../output.js'

/** `galaxy job update JOB FILE`: a new spec for a job that exists. */
export class JobUpdateCommand extends SpecCommand {
  static override paths = [['job', 'update']]

  static override usage = Command.Usage({
    description: 'Update a job that exists to the spec in a file',
    details: `
      Sends FILE (YAML or JSON) as the new spec of JOB, which must exist and be the job the spec
      names; unlike \`galaxy job run\` it never creates a job, and it does not wait. A new version
      rolls out --step pods at a time and pauses at --breakpoint; a change of replica or deploy
      policy alone only changes those. Follow it with \`galaxy job status JOB\`.
    `,
    examples: [['Update web', 'galaxy job update web web.yaml'], ['Update two pods at a time, pausing after four', 'galaxy job update web web.yaml --step 2 --breakpoint 4']]
  })

  job = Option.String({ name: 'job' })
  file = Option.String({ name: 'file' })

  protected async run (): Promise<undefined> {
    const job = nonEmpty('JOB', this.job)
    const body = await this.submitBody(this.file)
    const answer = await new ApiClient(this.apiTarget()).updateJob(job, body)
    if (this.json) writeJson(this.context.stdout, answer)
    else this.context.stdout.write(`${operationLine(answer, 'updated')}\n`)
    return undefined
  }
}
