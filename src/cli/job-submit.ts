import { Option } from 'clipanion'
import type { JobSubmitBody } from '../node/api/job-wire.js'
import { readSpecFile } from '../node/api/spec-file.js'
import { ApiCommand } from './api-command.js'
import { integerFlag, nonEmpty } from './flags.js'

/**
 * The base of the commands that send a spec file (`galaxy job run`, `job update`): `--step` and
 * `--breakpoint`, which override the spec's deploy policy for this submission.
 */
export abstract class SpecCommand extends ApiCommand {
  step = Option.String('--step', { description: "At most this many pods out of service at once during the update (default: the spec's deploy.step)" })
  breakpoint = Option.String('--breakpoint', { description: "Pause the update once this many pods run the new version (default: the spec's deploy.breakpoint)" })

  /**
   * The request for `file`: its text and the overrides. Bad flags are usage errors (exit 2), found
   * before the file is read; a file that cannot be read is one line, exit 1.
   */
  protected async submitBody (file: string): Promise<JobSubmitBody> {
    const step = integerFlag('--step', this.step, 1)
    const breakpoint = integerFlag('--breakpoint', this.breakpoint, 0)
    const spec = await readSpecFile(nonEmpty('FILE', file))
    return { spec, ...(step === undefined ? {} : { step }), ...(breakpoint === undefined ? {} : { breakpoint }) }
  }
}
