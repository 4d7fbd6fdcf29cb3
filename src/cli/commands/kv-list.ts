import { Command, Option } from 'clipanion'
import { GalaxyError } from '../../lib/errors.js'
import { ApiClient, decodeValue, type ListResultBody } from '../../node/api/client.js'
import type { KeyValueBody } from '../../node/api/wire.js'
import { ApiCommand } from '../api-command.js'
import { displayValue } from '../api-format.js'
import { integerFlag } from '../flags.js'
import { writeJson, writeTable } from '../output.js'

/** Keys asked for per request when paging through a whole prefix. */
export const listPageSize = 1000
/** The most pages one listing reads (ten million keys): a bound on a node that keeps answering `more`. */
const maxListPages = 10_000

/** `galaxy kv list [PREFIX]`: the keys under a prefix, in order. */
export class KvListCommand extends ApiCommand {
  static override paths = [['kv', 'list'], ['kv', 'ls']]

  static override usage = Command.Usage({
    description: 'List the keys under a prefix',
    details: `
      Lists every key that starts with PREFIX (all keys without one), in key order, with its value
      (as text when it is UTF-8, shortened), the revision it was last written at, its version and
      its lease. Pages through all of them unless --limit caps the count. The pages are separate
      reads, so a listing that spans pages may mix revisions.
    `,
    examples: [['List everything under app/', 'galaxy kv list app/'], ['The first 10 keys, as JSON', 'galaxy kv list --limit 10 --json']]
  })

  prefix = Option.String({ name: 'prefix', required: false })
  limit = Option.String('--limit', { description: 'List at most this many keys' })
  stale = Option.Boolean('--stale', false, { description: "Read this node's copy, which may be behind the leader" })

  protected async run (): Promise<undefined> {
    const limit = integerFlag('--limit', this.limit, 1)
    const prefix = this.prefix ?? ''
    const client = new ApiClient(this.apiTarget())
    const items: KeyValueBody[] = []
    let page: ListResultBody | undefined
    // Page until the node says there is no more, or the limit is reached (a node may answer fewer keys than asked).
    for (let pages = 0; page === undefined || (page.more && (limit === undefined || items.length < limit)); pages++) {
      const after = page?.items.at(-1)?.key
      if (page !== undefined && (after === undefined || pages >= maxListPages)) {
        throw new GalaxyError('ERR_BAD_RESPONSE', `the node kept answering that more keys follow after ${items.length}; listing stopped`)
      }
      const want = limit === undefined ? listPageSize : Math.min(listPageSize, limit - items.length)
      page = await client.list(prefix, { after, limit: want, stale: this.stale })
      if (after !== undefined && page.items[0]?.key === after) {
        throw new GalaxyError('ERR_BAD_RESPONSE', `the node answered key ${JSON.stringify(after)} again; listing stopped`)
      }
      items.push(...page.items)
    }
    const result: ListResultBody = { items, more: page.more, revision: page.revision }
    if (this.json) {
      writeJson(this.context.stdout, result)
      return undefined
    }
    if (result.items.length === 0) {
      this.context.stderr.write(prefix === '' ? 'no keys\n' : `no keys under ${JSON.stringify(prefix)}\n`)
      return undefined
    }
    writeTable(this.context.stdout, ['KEY', 'VALUE', 'REVISION', 'VERSION', 'LEASE'], result.items.map(kv => [
      kv.key, displayValue(decodeValue(kv.value)), String(kv.modRevision), String(kv.version), kv.lease === 0 ? '-' : String(kv.lease)
    ]))
    if (result.more) this.context.stderr.write(`more keys follow; raise --limit or leave it out to list them all\n`)
    return undefined
  }
}
