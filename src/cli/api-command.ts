import { Option } from 'clipanion'
import { resolveApiTarget, type ApiTarget } from './api-target.js'
import { GalaxyCommand } from './base-command.js'

/**
 * The base of every command that talks to a node's HTTP API: `--addr HOST:PORT` (or
 * `GALAXY_ADDR`, default 127.0.0.1:1646) and `--token` (or `GALAXY_TOKEN`).
 */
export abstract class ApiCommand extends GalaxyCommand {
  addr = Option.String('--addr', { description: 'The node API to talk to, HOST:PORT (default $GALAXY_ADDR, else 127.0.0.1:1646)' })
  token = Option.String('--token', { description: 'The bearer token for the API (default $GALAXY_TOKEN)' })

  /** Where this command's requests go; throws a usage error for a malformed address. */
  protected apiTarget (): ApiTarget {
    return resolveApiTarget({ addr: this.addr, token: this.token }, this.context.env)
  }
}
