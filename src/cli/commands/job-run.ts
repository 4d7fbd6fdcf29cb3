import { Command, Option } from 'clipanion'
import { formatDuration } from '../../lib/duration.js'
import { GalaxyError } from '../../lib/errors.js'
import { ApiClient } from '../../node/api/client.js'
import type { JobStatusBody } from '../../node/api/job-wire.js'
import { durationFlag } from '../flags.js'
import { jobProgress, operationLine, plural, progressLine, unplacedLine } from '../job-format.js'
import { followRollout, rolloutPollIntervalMs, rolloutStuckMs } from '../job-rollout.js'
import { SpecCommand } from '../job-submit.js'
import { writeJson } from '../output.js'
import { writeError } from '../report-error.js'

/** How long `galaxy job run` waits for the pods unless --timeout says otherwise. */
const defaultTimeoutMs = 300_000

/** The exit status when pods cannot be placed: the spec asks for more than the cluster has. */
export const exitUnplaceable = 2

/** `galaxy job run FILE`: submits a job and waits until its pods serve. */
export class JobRunCommand extends SpecCommand {
  static override paths = [['job', 'run']]

  static override usage = Command.Usage({
    description: 'Submit a job from a spec file and wait until its pods serve',
    details: `
      Sends FILE (YAML or JSON; \`galaxy job init\` prints an example) to the cluster, which creates
      the job it names, or updates it when it exists. Then, unless --detach, it prints a line each
      time the job's progress changes (pods placed, and of those running the current version how
      many run and are healthy) until every pod runs the current version and is healthy: exit 0.
      An update that pauses at its breakpoint also exits 0 and says how to continue it. Pods that
      no node can take, with nothing changing for a few seconds, exit 2 with the reasons (how many
      nodes each filter excluded); --timeout exits 1. --json prints the job's final status.
    `,
    examples: [
      ['Run web and wait for it', 'galaxy job run web.yaml'],
      ['Submit without waiting', 'galaxy job run web.yaml --detach'],
      ['Update one pod, then pause', 'galaxy job run web.yaml --breakpoint 1']
    ]
  })

  file = Option.String({ name: 'file' })
  detach = Option.Boolean('--detach', false, { description: 'Submit and exit without waiting for the pods' })
  timeout = Option.String('--timeout', { description: `How long to wait for the pods (default ${formatDuration(defaultTimeoutMs)})` })

  protected async run (): Promise<number | undefined> {
    const timeoutMs = durationFlag('--timeout', this.timeout, defaultTimeoutMs)
    const body = await this.submitBody(this.file)
    const client = new ApiClient(this.apiTarget())
    const submitted = await client.submitJob(body)
    const name = submitted.job.name
    const out = this.context.stdout
    if (this.json && this.detach) writeJson(out, submitted)
    if (!this.json) out.write(`${operationLine(submitted, submitted.created ? 'submitted' : 'updated')}\n`)
    if (this.detach) return undefined
    const outcome = await followRollout(async () => await client.job(name), line => {
      if (!this.json) out.write(`${line}\n`)
    }, { timeoutMs, pollIntervalMs: rolloutPollIntervalMs, stuckMs: rolloutStuckMs, nowMs: () => performance.now(), wait: sleep })
    const status = outcome.status
    if (this.json) writeJson(out, status)
    switch (outcome.type) {
      case 'done':
        if (!this.json) out.write(`job ${name} is up: ${plural(status.job.replica, 'pod')} at version ${status.job.current.version}\n`)
        return undefined
      case 'paused':
        if (!this.json) out.write(`job ${name} is paused; \`galaxy job continue ${name}\` resumes the update, \`galaxy job rollback ${name}\` undoes it\n`)
        return undefined
      case 'stopped':
        throw new GalaxyError('ERR_JOB_STOPPED', `job ${name} is ${status.job.state}: it was stopped or removed while it started`)
      case 'unplaceable':
        writeError(this.context.stderr, new GalaxyError('ERR_UNPLACEABLE', unplacedLine(outcome.unplaced)), this.json)
        return exitUnplaceable
      case 'timeout':
        throw new GalaxyError('ERR_TIMEOUT', `job ${name} is not up after ${formatDuration(timeoutMs)}: ${progressLine(jobProgress(status))}${firstProblem(status)}`)
    }
  }
}

/** `; web.2: <its message>` for the first pod with a problem, or nothing. */
function firstProblem (status: JobStatusBody): string {
  for (const pod of status.pods) {
    const message = pod.status?.message.split('\n')[0] ?? ''
    if (message !== '') return `; ${pod.pod}: ${message}`
  }
  return ''
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}
