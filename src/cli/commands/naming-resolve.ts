import { Command, Option } from 'clipanion'
import { UsageError } from '../../lib/errors.js'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { nonEmpty } from '../flags.js'
import { byPodIndex } from '../job-format.js'
import { writeJson, writeTable } from '../output.js'

/** `galaxy naming resolve JOB[/SERVICE]`: where a job's pods in service are reached. */
export class NamingResolveCommand extends ApiCommand {
  static override paths = [['naming', 'resolve']]

  static override usage = Command.Usage({
    description: "List the endpoints of a job's pods in service",
    details: `
      Lists the pods of JOB that are in service (running and healthy), with the host and port they
      are reached on: the port of SERVICE (one of the spec's pod.services), or without one the
      pod's first port. --json has every port of each pod.
    `,
    examples: [['Where web/http is served', 'galaxy naming resolve web/http'], ['Every pod of web in service, as JSON', 'galaxy naming resolve web --json']]
  })

  target = Option.String({ name: 'job[/service]' })

  protected async run (): Promise<undefined> {
    const [job = '', service, ...rest] = nonEmpty('JOB', this.target).split('/')
    if (job === '' || service === '' || rest.length > 0) throw new UsageError(`"${this.target}" is not JOB or JOB/SERVICE`)
    const body = await new ApiClient(this.apiTarget()).naming(job, service)
    if (this.json) {
      writeJson(this.context.stdout, body)
      return undefined
    }
    if (body.endpoints.length === 0) {
      this.context.stderr.write(`no pod of job ${job} is in service${service === undefined ? '' : ` for ${service}`}\n`)
      return undefined
    }
    writeTable(this.context.stdout, ['POD', 'HOST', 'PORT', 'VERSION'], [...body.endpoints].sort(byPodIndex).map(endpoint => [
      endpoint.pod, endpoint.host, String(endpoint.port), endpoint.version
    ]))
    return undefined
  }
}
