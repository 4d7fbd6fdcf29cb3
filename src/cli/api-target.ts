import { defaultApi } from '../lib/defaults.js'
import { UsageError } from '../lib/errors.js'
import { parseHostPort, type HostPort } from '../lib/host-port.js'

/** The node API a command talks to, and the bearer token it presents. */
export interface ApiTarget {
  readonly endpoint: HostPort
  readonly token: string | undefined
}

/**
 * Resolves where a command sends its requests: `--addr` over `GALAXY_ADDR` over the default API
 * address, and `--token` over `GALAXY_TOKEN`. A malformed address is a usage error naming its source.
 */
export function resolveApiTarget (flags: { addr?: string | undefined, token?: string | undefined }, env: Readonly<Record<string, string | undefined>>): ApiTarget {
  const fromFlag = flags.addr !== undefined
  const text = flags.addr ?? env.GALAXY_ADDR
  let endpoint = defaultApi
  if (text !== undefined && text !== '') {
    const parsed = parseHostPort(text)
    if (!parsed.ok) throw new UsageError(`${fromFlag ? '--addr' : 'GALAXY_ADDR'}: ${parsed.error}`)
    endpoint = parsed.value
  }
  const token = flags.token ?? (env.GALAXY_TOKEN === '' ? undefined : env.GALAXY_TOKEN)
  return { endpoint, token }
}

