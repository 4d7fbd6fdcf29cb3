import { Command, Option } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { nonEmpty } from '../flags.js'
import { writeJson } from '../output.js'

/** `galaxy kv del KEY [--prefix]`: deletes a key, or every key under a prefix. */
export class KvDelCommand extends ApiCommand {
  static override paths = [['kv', 'del'], ['kv', 'delete']]

  static override usage = Command.Usage({
    description: 'Delete a key, or every key under a prefix',
    details: 'Prints how many keys were deleted; deleting a key that does not exist deletes 0 and succeeds.',
    examples: [['Delete a key', 'galaxy kv del app/config/mode'], ['Delete everything under app/', 'galaxy kv del app/ --prefix']]
  })

  key = Option.String({ name: 'key' })
  prefix = Option.Boolean('--prefix', false, { description: 'Delete every key that starts with KEY' })

  protected async run (): Promise<undefined> {
    const key = nonEmpty('KEY', this.key)
    const body = await new ApiClient(this.apiTarget()).delete(key, { prefix: this.prefix })
    if (this.json) writeJson(this.context.stdout, body)
    else if (typeof body.deleted !== 'number') this.context.stdout.write(`deleted ${this.prefix ? 'the keys under' : 'key'} ${JSON.stringify(key)} at revision ${body.revision}\n`)
    else this.context.stdout.write(`deleted ${body.deleted} ${body.deleted === 1 ? 'key' : 'keys'} at revision ${body.revision}\n`)
    return undefined
  }
}
