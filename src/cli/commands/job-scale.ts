import { Command, Option } from 'clipanion'
import { assert } from '../../lib/assert.js'
import type { ApiClient } from '../../node/api/client.js'
import type { JobOperationBody } from '../../node/api/job-wire.js'
import { integerFlag } from '../flags.js'
import { JobOperationCommand } from '../job-operation-command.js'

/** `galaxy job scale JOB N`: sets how many pods a job wants. */
export class JobScaleCommand extends JobOperationCommand {
  static override paths = [['job', 'scale']]

  static override usage = Command.Usage({
    description: 'Set how many pods a job runs',
    details: `
      Sets the job's replica to N: new pods get the current version, and the pods with the highest
      indexes go first when it shrinks. N may be 0. A finished job starts again. The change lasts
      until a spec with another replica is submitted.
    `,
    examples: [['Run 5 pods of web', 'galaxy job scale web 5']]
  })

  replica = Option.String({ name: 'n' })

  protected done (body: JobOperationBody): string {
    return `scaled to ${body.job.replica}`
  }

  protected async operate (client: ApiClient, job: string): Promise<JobOperationBody> {
    const replica = integerFlag('N', this.replica, 0)
    assert(replica !== undefined, 'a required argument is always given')
    return await client.scaleJob(job, replica)
  }
}
