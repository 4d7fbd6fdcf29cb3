import { Command, Option } from 'clipanion'
import type { ApiClient } from '../../node/api/client.js'
import type { JobOperationBody } from '../../node/api/job-wire.js'
import { integerFlag } from '../flags.js'
import { JobOperationCommand } from '../job-operation-command.js'

/** `galaxy job continue JOB [--breakpoint N]`: resumes a paused update. */
export class JobContinueCommand extends JobOperationCommand {
  static override paths = [['job', 'continue']]

  static override usage = Command.Usage({
    description: 'Continue a paused update',
    details: `
      Resumes an update that paused at its breakpoint or by \`galaxy job pause\`. With --breakpoint N
      it pauses again once N pods run the new version; without it, it runs to the end.
    `,
    examples: [['Continue the update of web', 'galaxy job continue web'], ['Continue, then pause again at 4 pods', 'galaxy job continue web --breakpoint 4']]
  })

  breakpoint = Option.String('--breakpoint', { description: 'Pause again once this many pods run the new version' })

  protected done (): string {
    return 'continued'
  }

  protected async operate (client: ApiClient, job: string): Promise<JobOperationBody> {
    return await client.continueJob(job, integerFlag('--breakpoint', this.breakpoint, 0))
  }
}
