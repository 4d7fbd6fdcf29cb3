import { Option } from 'clipanion'
import { UsageError } from '../../lib/errors.js'
import { parseJobId, parsePodId } from '../../lib/ids.js'
import { GalaxyCommand } from '../base-command.js'

/**
 * `galaxy appworker --dir DIR`: the root process of a container, started by its node's agent
 * (never by hand, so it has no usage text and is not listed in the help). The job and pod it
 * serves come from `--job`/`--pod` or `GALAXY_JOB_ID`/`GALAXY_POD_ID`.
 */
export class AppWorkerCommand extends GalaxyCommand {
  static override paths = [['appworker']]

  dir = Option.String('--dir', { required: true, description: 'The container directory' })
  job = Option.String('--job', { description: 'The job id (default $GALAXY_JOB_ID)' })
  pod = Option.String('--pod', { description: 'The pod id (default $GALAXY_POD_ID)' })

  protected async run (): Promise<number> {
    const job = parseJobId(this.job ?? this.context.env.GALAXY_JOB_ID ?? '')
    if (!job.ok) throw new UsageError(`--job: ${job.error}`)
    const pod = parsePodId(this.pod ?? this.context.env.GALAXY_POD_ID ?? '')
    if (!pod.ok) throw new UsageError(`--pod: ${pod.error}`)
    if (!this.dir.startsWith('/')) throw new UsageError(`--dir: "${this.dir}" must be an absolute path`)
    // Loaded on demand, and without libp2p or level: one AppWorker runs in every container.
    const { runAppWorker } = await import('../../node/appworker/run-appworker.js')
    return await runAppWorker({ dir: this.dir, jobId: job.value, podId: pod.value })
  }
}
