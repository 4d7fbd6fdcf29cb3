import test from 'ava'
import { defaultApi, defaultDataDir, defaultListen } from '../../src/lib/defaults.js'
import { formatHostPort, parseHostPort } from '../../src/lib/host-port.js'
import { MemoryLogger, silentLogger } from '../../src/lib/logger.js'

test('a memory logger keeps lines with the bindings of its children', t => {
  const log = new MemoryLogger()
  const raft = log.child({ component: 'raft' })
  raft.child({ term: 3 }).info('became leader', { votes: 2 })
  log.warn('disk almost full')
  t.deepEqual(log.records, [
    { level: 'info', message: 'became leader', fields: { component: 'raft', term: 3, votes: 2 } },
    { level: 'warn', message: 'disk almost full', fields: {} }
  ])
  t.notThrows(() => { silentLogger.child({ a: 1 }).error('dropped') })
})

test('HOST:PORT parses IPv4, names and bracketed IPv6, and prints back', t => {
  t.deepEqual(parseHostPort('127.0.0.1:1646'), { ok: true, value: { host: '127.0.0.1', port: 1646 } })
  t.deepEqual(parseHostPort('seed1:1645'), { ok: true, value: { host: 'seed1', port: 1645 } })
  t.deepEqual(parseHostPort('[::1]:80'), { ok: true, value: { host: '::1', port: 80 } })
  t.is(formatHostPort({ host: '::1', port: 80 }), '[::1]:80')
  t.is(formatHostPort(defaultListen), '0.0.0.0:1645')
  t.is(formatHostPort(defaultApi), '127.0.0.1:1646')
})

test('malformed endpoints are refused with the reason', t => {
  t.deepEqual(parseHostPort('localhost'), { ok: false, error: '"localhost" is not HOST:PORT (IPv6 hosts go in brackets: [::1]:1646)' })
  t.deepEqual(parseHostPort('::1:80'), { ok: false, error: '"::1:80" is not HOST:PORT (IPv6 hosts go in brackets: [::1]:1646)' })
  t.deepEqual(parseHostPort('a:70000'), { ok: false, error: 'port 70000 in "a:70000" is outside 1-65535' })
  t.false(parseHostPort('a:0').ok)
  t.true(parseHostPort('a:0', { allowAnyPort: true }).ok)
})

test('the data dir defaults to /var/lib/galaxy for root and ~/.galaxy for others', t => {
  t.is(defaultDataDir(0, '/root'), '/var/lib/galaxy')
  t.is(defaultDataDir(1000, '/home/ada/'), '/home/ada/.galaxy')
})
