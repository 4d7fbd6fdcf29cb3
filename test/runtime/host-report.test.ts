import test from 'ava'
import { galaxy } from '../../src/proto/gen/host.js'
import { probeHost } from '../../src/runtime/host/host-report.js'
import { freePort } from '../helpers/free-port.js'
import { tempDir } from '../helpers/temp-dir.js'

test('a real host report survives the wire: every field is in host.proto and decodes to the same value', async t => {
  const report = await probeHost({
    dataDir: tempDir(t),
    listen: { host: '127.0.0.1', port: await freePort() },
    api: { host: '127.0.0.1', port: await freePort() }
  })
  const bytes = galaxy.HostReport.encode(report).finish()
  const decoded = galaxy.HostReport.toObject(galaxy.HostReport.decode(bytes), { defaults: true, arrays: true })
  // A field the proto lacks would be dropped on the way; one it types differently would change.
  t.deepEqual(decoded, JSON.parse(JSON.stringify(report)))
  t.true(bytes.byteLength > 100)
})
