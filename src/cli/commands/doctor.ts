import { homedir } from 'node:os'
import { Command, Option } from 'clipanion'
import { galaxy } from '../../proto/gen/host.js'
import { defaultApi, defaultDataDir, defaultListen } from '../../lib/defaults.js'
import { UsageError } from '../../lib/errors.js'
import { formatHostPort, parseHostPort, type HostPort } from '../../lib/host-port.js'
import { probeHost } from '../../runtime/host/host-report.js'
import { GalaxyCommand } from '../base-command.js'
import { evaluateHost, type CheckStatus } from '../doctor-checks.js'
import { writeJson, writeTable } from '../output.js'
import { exitFailure } from '../report-error.js'

const marks: Record<CheckStatus, string> = { pass: '✓', warn: '!', fail: '✗' }

/** `galaxy doctor`: checks this host before `galaxy up`. */
export class DoctorCommand extends GalaxyCommand {
  static override paths = [['doctor']]

  static override usage = Command.Usage({
    description: 'Check this host before `galaxy up`',
    details: `
      Checks the platform, root, cgroups (v2 unified or v1 hierarchies, and which controllers are
      writable), whether pid, mount, uts and ipc namespaces can be created, free space in the data
      dir, whether the listen and API ports are free, and that the embedded database works. Each
      line is ✓ (ready), ! (works with degraded isolation) or ✗ (\`galaxy up\` would fail), with a fix.
      Exits 1 when any check fails.
    `,
    examples: [['Check with the defaults of `galaxy up`', 'galaxy doctor'], ['Check another data dir, as JSON', 'galaxy doctor --data /srv/galaxy --json']]
  })

  data = Option.String('--data', { description: 'The data dir to check (default /var/lib/galaxy as root, else ~/.galaxy)' })
  listen = Option.String('--listen', { description: `The node-to-node address to check (default ${formatHostPort(defaultListen)})` })
  api = Option.String('--api', { description: `The HTTP API address to check (default ${formatHostPort(defaultApi)})` })

  protected async run (): Promise<number | undefined> {
    if (this.data === '') throw new UsageError('--data: must not be empty')
    const target = {
      dataDir: this.data ?? defaultDataDir(process.getuid?.() ?? -1, homedir()),
      listen: endpointFlag('--listen', this.listen, defaultListen),
      api: endpointFlag('--api', this.api, defaultApi)
    }
    if (overlaps(target.listen, target.api)) {
      throw new UsageError(`--listen ${formatHostPort(target.listen)} and --api ${formatHostPort(target.api)} would share a port`)
    }
    const host = await probeHost(target)
    const checks = evaluateHost(host)
    const failed = checks.filter(check => check.status === 'fail').length
    if (this.json) {
      // The host part is the wire record agents gossip; printing it through the generated code
      // keeps the JSON field names and types those of proto/galaxy/host.proto.
      writeJson(this.context.stdout, { ok: failed === 0, checks, host: galaxy.HostReport.toObject(galaxy.HostReport.create(host), { defaults: true, arrays: true }) })
    } else {
      // A fix goes on its own line under its check, so the table stays as wide as the summaries.
      writeTable(this.context.stdout, [], checks.flatMap(check => check.fix === ''
        ? [[`${marks[check.status]} ${check.id}`, check.summary]]
        : [[`${marks[check.status]} ${check.id}`, check.summary], ['', `fix: ${check.fix}`]]))
    }
    if (failed === 0) return undefined
    if (!this.json) this.context.stderr.write(`galaxy: ${failed} of ${checks.length} host checks failed\n`)
    return exitFailure
  }
}

/** Two endpoints clash when they use the same port on the same address, or either is a wildcard. */
function overlaps (a: HostPort, b: HostPort): boolean {
  const wildcard = (host: string): boolean => host === '0.0.0.0' || host === '::'
  return a.port === b.port && (a.host === b.host || wildcard(a.host) || wildcard(b.host))
}

function endpointFlag (flag: string, text: string | undefined, fallback: HostPort): HostPort {
  if (text === undefined) return fallback
  const parsed = parseHostPort(text)
  if (!parsed.ok) throw new UsageError(`${flag}: ${parsed.error}`)
  return parsed.value
}
