import { Command, Option } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { nonEmpty } from '../flags.js'
import { formatTime } from '../job-format.js'
import { writeJson, writeTable } from '../output.js'

/** `galaxy job history JOB`: what happened to a job, oldest first. */
export class JobHistoryCommand extends ApiCommand {
  static override paths = [['job', 'history']]

  static override usage = Command.Usage({
    description: 'Show what happened to a job',
    details: `
      One row per event, oldest first: when (UTC), what (submit, update, pause, continue,
      rollback, cancel, scale, stop, remove, and the job reaching running, updated, paused or
      finished), the job's version then, and details. Only the latest events are kept.
    `,
    examples: [['The history of web', 'galaxy job history web']]
  })

  job = Option.String({ name: 'job' })

  protected async run (): Promise<undefined> {
    const body = await new ApiClient(this.apiTarget()).jobHistory(nonEmpty('JOB', this.job))
    if (this.json) {
      writeJson(this.context.stdout, body)
      return undefined
    }
    writeTable(this.context.stdout, ['TIME', 'EVENT', 'VERSION', 'DETAIL'], body.history.map(event => [
      formatTime(event.atMs), event.event, event.version, event.detail === '' ? '-' : event.detail
    ]))
    return undefined
  }
}
