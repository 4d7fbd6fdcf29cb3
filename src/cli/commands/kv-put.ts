import type { Readable } from 'node:stream'
import { Command, Option } from 'clipanion'
import { UsageError } from '../../lib/errors.js'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { integerFlag, nonEmpty } from '../flags.js'
import { writeJson } from '../output.js'

/** The most read from standard input for one value; the store refuses values over 1 MiB anyway, with its own message. */
const maxStdinBytes = 16 * 1024 * 1024

/** `galaxy kv put KEY VALUE`: writes one key. */
export class KvPutCommand extends ApiCommand {
  static override paths = [['kv', 'put']]

  static override usage = Command.Usage({
    description: 'Write a key',
    details: `
      Sets KEY to VALUE, or to everything on standard input when VALUE is \`-\` (binary is fine).
      With --lease the key is deleted when that lease ends.
    `,
    examples: [
      ['Set a key', 'galaxy kv put app/config/mode blue'],
      ['Set a key from a file', 'galaxy kv put app/config/tls.pem - < tls.pem'],
      ['Set a key that lives as long as lease 7', 'galaxy kv put app/leader node1 --lease 7']
    ]
  })

  key = Option.String({ name: 'key' })
  value = Option.String({ name: 'value' })
  lease = Option.String('--lease', { description: 'Attach the key to this lease (an id from `galaxy lock acquire` or the API)' })

  protected async run (): Promise<undefined> {
    const key = nonEmpty('KEY', this.key)
    const lease = integerFlag('--lease', this.lease, 1)
    const value = this.value === '-' ? await readAll(this.context.stdin, maxStdinBytes) : new TextEncoder().encode(this.value)
    const body = await new ApiClient(this.apiTarget()).put(key, value, { lease })
    if (this.json) writeJson(this.context.stdout, body)
    else this.context.stdout.write(`key ${JSON.stringify(key)} written at revision ${body.revision}\n`)
    return undefined
  }
}

async function readAll (input: Readable, maxBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk as Buffer
    total += bytes.byteLength
    if (total > maxBytes) throw new UsageError(`standard input holds more than ${maxBytes} bytes, too much for one value`)
    chunks.push(bytes)
  }
  return Buffer.concat(chunks)
}
