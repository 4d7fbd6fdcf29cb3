import { readFileSync } from 'node:fs'
import { Cli } from 'clipanion'
import test from 'ava'
import { ApiCommand } from '../../src/cli/api-command.js'
import { resolveApiTarget } from '../../src/cli/api-target.js'
import { commands } from '../../src/cli/cli.js'
import { GalaxyCommand } from '../../src/cli/base-command.js'
import { GalaxyError } from '../../src/lib/errors.js'
import { runGalaxy } from './run.js'

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

test('--version and version print the package version and the commit', async t => {
  for (const argv of [['--version'], ['-v'], ['version']]) {
    const run = await runGalaxy(argv)
    t.is(run.exitCode, 0)
    t.is(run.stdout, `galaxy ${version} (commit unknown, node ${process.version}, linux/${process.arch})\n`)
    t.is(run.stderr, '')
  }
  const json = await runGalaxy(['version', '--json'])
  t.deepEqual(JSON.parse(json.stdout), { version, commit: 'unknown', node: process.version, platform: 'linux', arch: process.arch })
})

test('--help and a bare galaxy list the commands without colour when not on a terminal', async t => {
  for (const argv of [['--help'], [], ['help']]) {
    const run = await runGalaxy(argv)
    t.is(run.exitCode, 0)
    t.regex(run.stdout, /galaxy doctor/)
    t.regex(run.stdout, /galaxy version/)
    t.notRegex(run.stdout, /\u001b\[/)
  }
  const doctorHelp = await runGalaxy(['doctor', '--help'])
  t.is(doctorHelp.exitCode, 0)
  t.regex(doctorHelp.stdout, /--listen/)
})

test('an unknown command or flag is one line on stderr and exit 2', async t => {
  const unknown = await runGalaxy(['doctr'])
  t.is(unknown.exitCode, 2)
  t.is(unknown.stdout, '')
  t.is(unknown.stderr, 'galaxy: unknown command "doctr"; did you mean galaxy doctor? (see galaxy --help)\n')
  const flag = await runGalaxy(['doctor', '--bogus'])
  t.is(flag.exitCode, 2)
  t.is(flag.stderr, 'galaxy: unsupported option name ("--bogus") (see galaxy doctor --help)\n')
  const extra = await runGalaxy(['version', 'now'])
  t.is(extra.stderr, 'galaxy: extraneous positional argument ("now") (see galaxy version --help)\n')
})

test('a bad flag value is a usage error: one line, or one JSON object with --json', async t => {
  const text = await runGalaxy(['doctor', '--listen', 'nowhere'])
  t.is(text.exitCode, 2)
  t.is(text.stderr, 'galaxy: --listen: "nowhere" is not HOST:PORT (IPv6 hosts go in brackets: [::1]:1646)\n')
  const json = await runGalaxy(['doctor', '--api', '1.2.3.4:99999', '--json'])
  t.is(json.exitCode, 2)
  t.is(json.stdout, '')
  t.deepEqual(JSON.parse(json.stderr), { error: { code: 'ERR_USAGE', message: '--api: port 99999 in "1.2.3.4:99999" is outside 1-65535' } })
  const parseError = await runGalaxy(['doctor', '--nope', '--json'])
  t.is(JSON.parse(parseError.stderr).error.code, 'ERR_USAGE')
})

class FailingCommand extends GalaxyCommand {
  static override paths = [['fail']]
  protected async run (): Promise<undefined> {
    throw new GalaxyError('ERR_UNAVAILABLE', 'no leader', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1646') })
  }
}

class WhereCommand extends ApiCommand {
  static override paths = [['where']]
  protected async run (): Promise<undefined> {
    const target = this.apiTarget()
    this.context.stdout.write(`${target.endpoint.host}:${target.endpoint.port} ${target.token ?? '-'}\n`)
    return undefined
  }
}

function cliWith (...extra: Array<typeof FailingCommand | typeof WhereCommand>): Cli {
  const cli = new Cli({ binaryName: 'galaxy' })
  for (const command of [...commands, ...extra]) cli.register(command)
  return cli
}

test('a failing command prints its error chain on one line and exits 1', async t => {
  const run = await runGalaxy(['fail'], {}, cliWith(FailingCommand))
  t.is(run.exitCode, 1)
  t.is(run.stderr, 'galaxy: no leader: connect ECONNREFUSED 127.0.0.1:1646\n')
  const json = await runGalaxy(['fail', '--json'], {}, cliWith(FailingCommand))
  t.deepEqual(JSON.parse(json.stderr), { error: { code: 'ERR_UNAVAILABLE', message: 'no leader: connect ECONNREFUSED 127.0.0.1:1646' } })
})

test('API commands take --addr over GALAXY_ADDR over the default, and --token over GALAXY_TOKEN', async t => {
  const cli = cliWith(WhereCommand)
  t.is((await runGalaxy(['where'], {}, cli)).stdout, '127.0.0.1:1646 -\n')
  t.is((await runGalaxy(['where'], { GALAXY_ADDR: '10.0.0.5:1646', GALAXY_TOKEN: 'env-token' }, cli)).stdout, '10.0.0.5:1646 env-token\n')
  t.is((await runGalaxy(['where', '--addr', '[::1]:7000', '--token', 'flag'], { GALAXY_ADDR: '10.0.0.5:1646', GALAXY_TOKEN: 'env' }, cli)).stdout, '::1:7000 flag\n')
  const bad = await runGalaxy(['where'], { GALAXY_ADDR: 'nohost' }, cli)
  t.is(bad.exitCode, 2)
  t.is(bad.stderr, 'galaxy: GALAXY_ADDR: "nohost" is not HOST:PORT (IPv6 hosts go in brackets: [::1]:1646)\n')
  t.deepEqual(resolveApiTarget({ addr: 'a:1' }, { GALAXY_TOKEN: '' }), { endpoint: { host: 'a', port: 1 }, token: undefined })
})
