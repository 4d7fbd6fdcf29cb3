import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { MemoryLogger, silentLogger, type LogRecord } from '../../src/lib/logger.js'
import { ApiClient } from '../../src/node/api/client.js'
import { ClusterNode } from '../../src/node/cluster-node.js'
import { collectGarbage } from '../helpers/collect-garbage.js'
import { freePort } from '../helpers/free-port.js'
import { tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait-for.js'

const puts = 2_600

test('a seed that joins after the log was compacted gets the state in a snapshot read back from disk', async t => {
  t.timeout(120_000)
  const records: LogRecord[] = []
  const firstDir = tempDir(t)
  const local = async (): Promise<{ host: string, port: number }> => ({ host: '127.0.0.1', port: await freePort() })
  const common = { roles: [], pool: 'default', labels: {}, snapshotEveryEntries: 500 }
  const listen = await local()
  const first = await ClusterNode.start({ ...common, dataDir: firstDir, listen, api: await local(), name: 'first', seed: true, join: [], logger: new MemoryLogger(records) })
  t.teardown(async () => { await first.stop() })
  const api = new ApiClient({ endpoint: first.api, token: readFileSync(join(firstDir, 'admin.token'), 'utf8').trim() })
  await waitFor('a leader', async () => (await api.status()).leader !== null, 15_000, 50)
  for (let i = 0; i < puts; i += 50) {
    await Promise.all(Array.from({ length: 50 }, async (_, j) => { await api.put(`k${i + j}`, new TextEncoder().encode(`v${i + j}`)) }))
  }
  // A snapshot past 2,000 entries, and the log compacted up to 2,000 entries behind it.
  await waitFor('a snapshot', async () => records.some(record => record.message === 'snapshot taken' && (record.fields.index as number) > 2_100), 30_000, 20)
  // Nothing holds the snapshot's data any more: collected, it must be read back to be sent.
  await collectGarbage()

  const second = await ClusterNode.start({
    ...common, dataDir: tempDir(t), listen: await local(), api: await local(), name: 'second', seed: true,
    join: [listen], clusterKeyFile: join(firstDir, 'cluster.key'), logger: silentLogger
  })
  t.teardown(async () => { await second.stop() })
  await waitFor('the state on the new seed', async () => second.replica?.state.get(`k${puts - 1}`) !== undefined, 60_000, 50)
  t.is(new TextDecoder().decode(second.replica?.state.get('k0')?.value), 'v0')
  t.true(records.some(record => record.message === 'sending snapshot'), 'sent as a snapshot')
  t.true(records.some(record => record.message === 'snapshot not at hand yet'), 'its data was read back from disk first')
})
