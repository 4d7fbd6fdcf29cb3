import { Command, Option } from 'clipanion'
import { GalaxyError } from '../../lib/errors.js'
import { ApiClient, decodeValue } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { nonEmpty } from '../flags.js'
import { writeJson } from '../output.js'

/** `galaxy kv get KEY`: prints one key's value. */
export class KvGetCommand extends ApiCommand {
  static override paths = [['kv', 'get']]

  static override usage = Command.Usage({
    description: 'Print the value of a key',
    details: `
      Prints the value exactly as stored, so binary values can be redirected to a file; a newline
      is added only on a terminal. Exits 1 when the key does not exist. --stale reads the answering
      node's copy without asking the leader: faster, and possibly behind. --json prints the key
      with its revisions, version and lease, the value in base64.
    `,
    examples: [['Print a value', 'galaxy kv get app/config/mode'], ['Save a binary value', 'galaxy kv get app/config/tls.pem > tls.pem']]
  })

  key = Option.String({ name: 'key' })
  stale = Option.Boolean('--stale', false, { description: "Read this node's copy, which may be behind the leader" })

  protected async run (): Promise<undefined> {
    const key = nonEmpty('KEY', this.key)
    const body = await new ApiClient(this.apiTarget()).get(key, { stale: this.stale })
    if (body.kv === null) throw new GalaxyError('ERR_NOT_FOUND', `key ${JSON.stringify(key)} not found`)
    if (this.json) {
      writeJson(this.context.stdout, body)
      return undefined
    }
    const value = decodeValue(body.kv.value)
    this.context.stdout.write(value)
    const onTerminal = (this.context.stdout as { isTTY?: boolean }).isTTY === true
    if (onTerminal && value.at(-1) !== 0x0a) this.context.stdout.write('\n')
    return undefined
  }
}
