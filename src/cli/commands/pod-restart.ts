import { Command, Option } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { nonEmpty } from '../flags.js'
import { writeJson } from '../output.js'

/** `galaxy pod restart POD`: the pod starts over in a new container. */
export class PodRestartCommand extends ApiCommand {
  static override paths = [['pod', 'restart']]

  static override usage = Command.Usage({
    description: 'Restart a pod in a new container',
    details: `
      Stops POD (\`web.0\`) and starts it again from scratch in a new container, with the version
      it should run; the job's other pods are left alone. Prints the new container.
    `,
    examples: [['Restart web.0', 'galaxy pod restart web.0']]
  })

  pod = Option.String({ name: 'pod' })

  protected async run (): Promise<undefined> {
    const body = await new ApiClient(this.apiTarget()).restartPod(nonEmpty('POD', this.pod))
    if (this.json) writeJson(this.context.stdout, body)
    else this.context.stdout.write(`pod ${body.pod} restarting in container ${body.container}\n`)
    return undefined
  }
}
