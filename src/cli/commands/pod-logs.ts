import { Command, Option } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { integerFlag, nonEmpty } from '../flags.js'

/** `galaxy pod logs POD`: a pod's task log, from whichever node runs it. */
export class PodLogsCommand extends ApiCommand {
  static override paths = [['pod', 'logs']]

  static override usage = Command.Usage({
    description: "Print a pod's log",
    details: `
      Prints what a task of POD (\`web.0\`) wrote to its standard output, or with --stderr its
      standard error, fetched through any node from the node that runs it: the last --tail bytes
      (without it, the node's default of 64 KiB), then with -f what it writes next, until interrupted.
      --task picks the task of a pod that has several (default: its first). The log is printed as
      written, with or without --json.
    `,
    examples: [
      ['Print the log of web.0', 'galaxy pod logs web.0'],
      ['Follow the errors of its server task', 'galaxy pod logs web.0 --task server --stderr -f'],
      ['The last 4 KiB', 'galaxy pod logs web.0 --tail 4096']
    ]
  })

  pod = Option.String({ name: 'pod' })
  follow = Option.Boolean('-f,--follow', false, { description: 'Keep printing what the task writes, until interrupted' })
  task = Option.String('--task', { description: 'The task whose log to print (default: the first)' })
  stderr = Option.Boolean('--stderr', false, { description: 'Print standard error instead of standard output' })
  tail = Option.String('--tail', { description: 'Start this many bytes before the end' })

  protected async run (): Promise<undefined> {
    const pod = nonEmpty('POD', this.pod)
    const tail = integerFlag('--tail', this.tail, 0)
    const task = this.task === undefined ? undefined : nonEmpty('--task', this.task)
    const out = this.context.stdout
    const chunks = new ApiClient(this.apiTarget()).podLogs(pod, { task, stream: this.stderr ? 'stderr' : 'stdout', tail, follow: this.follow })
    for await (const chunk of chunks) {
      // Waits for a slow reader (a pager) rather than holding the log in memory.
      if (!out.write(chunk)) await new Promise(resolve => out.once('drain', resolve))
    }
    return undefined
  }
}
