import { Option, type Usage } from 'clipanion'
import { ApiClient } from '../node/api/client.js'
import type { JobOperationBody } from '../node/api/job-wire.js'
import { ApiCommand } from './api-command.js'
import { nonEmpty } from './flags.js'
import { operationLine } from './job-format.js'
import { writeJson } from './output.js'

/**
 * The base of the commands that change a job by name (`galaxy job pause JOB` and the like): they
 * send one operation and print the job's new state on one line, or with `--json` the API's answer.
 */
export abstract class JobOperationCommand extends ApiCommand {
  job = Option.String({ name: 'job' })

  /** What was done, in the past tense, for `operationLine`: `paused`. */
  protected abstract done (body: JobOperationBody): string

  /** Sends the operation; flags are checked here, before any request. */
  protected abstract operate (client: ApiClient, job: string): Promise<JobOperationBody>

  protected async run (): Promise<undefined> {
    const job = nonEmpty('JOB', this.job)
    const body = await this.operate(new ApiClient(this.apiTarget()), job)
    if (this.json) writeJson(this.context.stdout, body)
    else this.context.stdout.write(`${operationLine(body, this.done(body))}\n`)
    return undefined
  }
}

/** The operations that take nothing but the job's name. */
export type PlainJobOperation = Parameters<ApiClient['jobOperation']>[1]

/**
 * The command `galaxy job <operation> JOB` for an operation without flags: its help is `usage`,
 * and its line says the job is `done`. Its type is the class expression's own, a concrete
 * command clipanion can register.
 */
export function plainOperationCommand (operation: PlainJobOperation, usage: Usage, done: string) {
  return class extends JobOperationCommand {
    static override paths = [['job', operation]]
    static override usage = usage

    protected done (): string {
      return done
    }

    protected async operate (client: ApiClient, job: string): Promise<JobOperationBody> {
      return await client.jobOperation(job, operation)
    }
  }
}
