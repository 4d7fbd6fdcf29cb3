import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { generateClusterKey } from '../../src/node/net/identity.js'
import { freePort } from '../helpers/free-port.js'
import { tempDir } from '../helpers/temp-dir.js'
import { runGalaxy } from './run.js'

test('bad flags of galaxy up are one line and exit 2, before anything starts', async t => {
  const data = tempDir(t)
  const cases: Array<[string[], RegExp]> = [
    [['--listen', 'nope'], /^galaxy: --listen: "nope" is not HOST:PORT/],
    [['--api', '127.0.0.1:99999'], /^galaxy: --api: port 99999/],
    [['--roles', 'resman,chef'], /^galaxy: --roles: unknown role "chef"/],
    [['--pool', 'Bad Pool'], /^galaxy: --pool: /],
    [['--label', 'novalue'], /^galaxy: --label: "novalue" is not KEY=VALUE/],
    [['--dev', '--join', '127.0.0.1:1645'], /^galaxy: --dev runs a one-node cluster and cannot --join/],
    [['--log-level', 'loud'], /^galaxy: --log-level: "loud"/],
    [['--suspect-after', 'soon'], /^galaxy: --suspect-after: /],
    [['--suspect-after', '5s', '--dead-after', '2s'], /^galaxy: --suspect-after must be at least 1s and --dead-after longer than it/]
  ]
  for (const [args, expected] of cases) {
    const run = await runGalaxy(['up', '--data', join(data, 'd'), ...args])
    t.is(run.exitCode, 2, args.join(' '))
    t.regex(run.stderr, expected)
    t.is(run.stderr.trim().split('\n').length, 1)
  }
})

test('joining through an unreachable seed fails with one clear line and exit 1', async t => {
  t.timeout(60_000)
  const dir = tempDir(t)
  const keyFile = join(dir, 'cluster.key')
  writeFileSync(keyFile, generateClusterKey())
  const closed = await freePort()
  const run = await runGalaxy(['up', '--seed', '--join', `127.0.0.1:${closed}`, '--key-file', keyFile, '--data', join(dir, 'data'),
    '--listen', `127.0.0.1:${await freePort()}`, '--api', `127.0.0.1:${await freePort()}`, '--log-level', 'error'])
  t.is(run.exitCode, 1)
  t.regex(run.stderr, new RegExp(`^galaxy: cannot join the cluster through 127\\.0\\.0\\.1:${closed}: .+\\n$`))
})

test('a joining node without the cluster key is told where to get it', async t => {
  const dir = tempDir(t)
  const run = await runGalaxy(['up', '--join', '127.0.0.1:1', '--data', join(dir, 'data'), '--listen', `127.0.0.1:${await freePort()}`, '--api', `127.0.0.1:${await freePort()}`])
  t.is(run.exitCode, 1)
  t.is(run.stderr, 'galaxy: the cluster key is missing: pass --key-file FILE or set GALAXY_CLUSTER_KEY (copy <data>/cluster.key from the first seed)\n')
})
