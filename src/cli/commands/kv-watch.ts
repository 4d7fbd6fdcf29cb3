import { Command, Option } from 'clipanion'
import { GalaxyError } from '../../lib/errors.js'
import { formatHostPort } from '../../lib/host-port.js'
import { ApiClient, decodeValue } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { displayValue } from '../api-format.js'
import { integerFlag } from '../flags.js'

/** A watched value is shown up to this many characters on its line. */
const watchValueChars = 200

/** `galaxy kv watch PREFIX`: prints changes under a prefix as they happen. */
export class KvWatchCommand extends ApiCommand {
  static override paths = [['kv', 'watch']]

  static override usage = Command.Usage({
    description: 'Print the changes of keys under a prefix as they happen',
    details: `
      Prints one line per change, \`REVISION put KEY VALUE\` or \`REVISION delete KEY\`, until
      interrupted. Without --revision it starts after the current revision; with it, it first
      replays the history from that revision on. When that revision was compacted away it exits 1:
      read the keys again (galaxy kv list) and watch from the revision that read returned, plus one.
      --json prints each line of the API's stream as it comes, keep-alive \`progress\` lines included.
    `,
    examples: [['Watch app/', 'galaxy kv watch app/'], ['Replay from revision 120, as JSON lines', 'galaxy kv watch app/ --revision 120 --json']]
  })

  prefix = Option.String({ name: 'prefix' })
  revision = Option.String('--revision', { description: 'Start at this revision, replaying what changed since (default: after the current one)' })

  protected async run (): Promise<undefined> {
    const requested = integerFlag('--revision', this.revision, 1)
    const target = this.apiTarget()
    const client = new ApiClient(target)
    // The route needs a start; "from now" is the first revision after a read of the prefix.
    const start = requested ?? (await client.list(this.prefix, { limit: 1 })).revision + 1
    const out = this.context.stdout
    for await (const line of client.watch(this.prefix, start)) {
      if (this.json) out.write(`${JSON.stringify(line)}\n`)
      if (line.type === 'compacted') {
        throw new GalaxyError('ERR_COMPACTED', `revision ${start} was compacted away (the oldest kept is ${line.compactRevision + 1}); list the keys again and watch from the revision that returns, plus one`)
      }
      if (this.json || line.type === 'progress') continue
      if (line.type === 'put') out.write(`${line.revision} put ${line.key} ${displayValue(decodeValue(line.value), watchValueChars)}\n`)
      else out.write(`${line.revision} delete ${line.key}\n`)
    }
    throw new GalaxyError('ERR_WATCH_CLOSED', `galaxy node at ${formatHostPort(target.endpoint)} closed the watch stream`)
  }
}
