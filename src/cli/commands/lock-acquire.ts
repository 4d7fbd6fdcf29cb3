import { hostname } from 'node:os'
import { Command, Option } from 'clipanion'
import { formatDuration } from '../../lib/duration.js'
import { UsageError } from '../../lib/errors.js'
import { ApiClient } from '../../node/api/client.js'
import { ApiCommand } from '../api-command.js'
import { durationFlag, nonEmpty } from '../flags.js'
import { writeJson, writeTable } from '../output.js'

/** How long a lock's lease lives unless --ttl says otherwise. */
const defaultTtlMs = 15_000
/** How long to wait for a busy lock unless --wait says otherwise. */
const defaultWaitMs = 30_000

/** `galaxy lock acquire NAME`: takes a lock under a fresh lease. */
export class LockAcquireCommand extends ApiCommand {
  static override paths = [['lock', 'acquire']]

  static override usage = Command.Usage({
    description: 'Take a lock under a new lease and print its fencing token',
    details: `
      Grants a lease of --ttl and takes the lock NAME for --owner under it, waiting up to --wait for
      the current holder. Prints the lock, its owner, the lease and the fencing token, which is
      larger for every new holder of any lock: pass it along with writes so that a stale holder's
      writes can be refused. Nothing keeps the lease alive after the command ends, so the lock is
      released when the TTL runs out, or earlier by \`galaxy lock release NAME --owner OWNER\`. If the
      lock cannot be taken, the lease is revoked.
    `,
    examples: [
      ['Hold db-migrate for a minute', 'galaxy lock acquire db-migrate --ttl 1m'],
      ['Fail at once when it is held', 'galaxy lock acquire db-migrate --wait 0 --owner ci-42']
    ]
  })

  name = Option.String({ name: 'name' })
  ttl = Option.String('--ttl', { description: `How long the lock's lease lives, like 15s or 2m (default ${formatDuration(defaultTtlMs)})` })
  wait = Option.String('--wait', { description: `How long to wait while another owner holds it (default ${formatDuration(defaultWaitMs)})` })
  owner = Option.String('--owner', { description: 'Who holds the lock (default <hostname>-<pid>)' })

  protected async run (): Promise<undefined> {
    const name = nonEmpty('NAME', this.name)
    const ttlMs = durationFlag('--ttl', this.ttl, defaultTtlMs)
    if (ttlMs === 0) throw new UsageError('--ttl: must be longer than 0s')
    const waitMs = durationFlag('--wait', this.wait, defaultWaitMs)
    const owner = nonEmpty('--owner', this.owner ?? `${hostname()}-${process.pid}`)
    const client = new ApiClient(this.apiTarget())
    const { lease } = await client.leaseGrant(ttlMs)
    let lock
    try {
      lock = await client.lockAcquire({ name, owner, lease, waitMs })
    } catch (error) {
      // The lease exists only for this lock; best effort, since the TTL ends it anyway.
      await client.leaseRevoke(lease).catch(() => undefined)
      throw error
    }
    if (this.json) {
      writeJson(this.context.stdout, lock)
      return undefined
    }
    writeTable(this.context.stdout, [], [
      ['Lock', lock.name],
      ['Owner', lock.owner],
      ['Lease', `${lock.lease} (ttl ${formatDuration(ttlMs)}, not kept alive)`],
      ['Fencing token', String(lock.token)]
    ])
    return undefined
  }
}
