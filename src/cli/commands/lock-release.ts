import { Command, Option } from 'clipanion'
import { UsageError } from '../../lib/errors.js'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { nonEmpty } from '../flags.js'
import { writeJson } from '../output.js'

/** `galaxy lock release NAME --owner O`: gives a lock up. */
export class LockReleaseCommand extends ApiCommand {
  static override paths = [['lock', 'release']]

  static override usage = Command.Usage({
    description: 'Release a lock held by an owner',
    details: 'Fails (exit 1) when OWNER does not hold the lock. The lock\'s lease lives on until its TTL ends.',
    examples: [['Release db-migrate', 'galaxy lock release db-migrate --owner ci-42']]
  })

  name = Option.String({ name: 'name' })
  owner = Option.String('--owner', { description: 'The owner that holds the lock, as given to `galaxy lock acquire`' })

  protected async run (): Promise<undefined> {
    const name = nonEmpty('NAME', this.name)
    if (this.owner === undefined) throw new UsageError('--owner is required: the owner that holds the lock')
    const owner = nonEmpty('--owner', this.owner)
    const body = await new ApiClient(this.apiTarget()).lockRelease(name, owner)
    if (this.json) writeJson(this.context.stdout, body)
    else this.context.stdout.write(`released lock ${JSON.stringify(name)} at revision ${body.revision}\n`)
    return undefined
  }
}
