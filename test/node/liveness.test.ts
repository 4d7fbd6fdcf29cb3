import test from 'ava'
import { AssertionError } from '../../src/lib/assert.js'
import type { NodeId } from '../../src/lib/ids.js'
import { LivenessTable, type NodeReport } from '../../src/node/gossip/liveness.js'

const nodeId = (text: string): NodeId => text as NodeId

function report (id: string, sequence: number, uptimeMs = sequence * 1000, name = id): NodeReport {
  return {
    id: nodeId(id),
    name,
    addresses: [`/ip4/127.0.0.1/tcp/${4000 + sequence}`],
    api: '127.0.0.1:7070',
    roles: ['agent'],
    pool: 'default',
    labels: { rack: 'r1' },
    seed: false,
    capacity: { cpuCores: 4, memoryBytes: 8 * 2 ** 30, diskBytes: 100 * 2 ** 30 },
    uptimeMs,
    sequence
  }
}

test('a node is alive until suspectAfterMs of silence, suspect until deadAfterMs, then dead', t => {
  const table = new LivenessTable()
  t.true(table.record(report('A', 1), 1000))
  t.is(table.state(nodeId('A'), 1000), 'alive')
  t.is(table.state(nodeId('A'), 3999), 'alive')
  t.is(table.state(nodeId('A'), 4000), 'suspect')
  t.is(table.state(nodeId('A'), 10_999), 'suspect')
  t.is(table.state(nodeId('A'), 11_000), 'dead')
  t.is(table.state(nodeId('A'), 1_000_000), 'dead')
})

test('the thresholds are options', t => {
  const table = new LivenessTable({ suspectAfterMs: 100, deadAfterMs: 250 })
  table.record(report('A', 1), 0)
  t.is(table.state(nodeId('A'), 99), 'alive')
  t.is(table.state(nodeId('A'), 100), 'suspect')
  t.is(table.state(nodeId('A'), 250), 'dead')
})

test('a node the table never heard of has no state', t => {
  const table = new LivenessTable()
  t.is(table.state(nodeId('A'), 0), undefined)
  t.is(table.get(nodeId('A'), 0), undefined)
  t.deepEqual(table.list(0), [])
})

test('a newer report replaces the kept one and brings a suspect or dead node back to alive', t => {
  const table = new LivenessTable()
  table.record(report('A', 1, 1000, 'old'), 0)
  t.is(table.state(nodeId('A'), 20_000), 'dead')
  t.true(table.record(report('A', 2, 21_000, 'new'), 20_000))
  const entry = table.get(nodeId('A'), 20_500)
  t.is(entry?.state, 'alive')
  t.is(entry?.lastSeenMs, 500)
  t.is(entry?.report.name, 'new')
})

test('duplicate and older reports are ignored and do not refresh the silence', t => {
  const table = new LivenessTable()
  table.record(report('A', 5, 50_000, 'five'), 0)
  t.false(table.record(report('A', 5, 50_000, 'five again'), 1000))
  t.false(table.record(report('A', 4, 49_000, 'four'), 2000))
  const entry = table.get(nodeId('A'), 2000)
  t.is(entry?.report.name, 'five')
  t.is(entry?.lastSeenMs, 2000)
})

test('a restart is recognised by an uptime shorter than the silence, even when the sequence went down', t => {
  const table = new LivenessTable()
  table.record(report('A', 1000, 600_000, 'first life'), 0)
  // Silent for 5 s, then a report from a process up for 2 s: it started after we last heard.
  t.true(table.record(report('A', 3, 2000, 'second life'), 5000))
  t.is(table.get(nodeId('A'), 5000)?.report.name, 'second life')
  // The new incarnation's sequence goes on from there.
  t.true(table.record(report('A', 4, 3000, 'second life'), 6000))
  t.false(table.record(report('A', 3, 2000, 'late duplicate'), 6100))
})

test('a lower sequence from a process older than the silence is a late report, not a restart', t => {
  const table = new LivenessTable()
  table.record(report('A', 10, 10_000, 'ten'), 0)
  t.false(table.record(report('A', 9, 9000, 'nine'), 500))
  t.is(table.get(nodeId('A'), 500)?.report.name, 'ten')
})

test('list holds every node, dead ones too, ordered by id, with state and silence', t => {
  const table = new LivenessTable({ suspectAfterMs: 1000, deadAfterMs: 2000 })
  table.record(report('C', 1), 0)
  table.record(report('A', 1), 1500)
  table.record(report('B', 1), 2600)
  t.deepEqual(table.list(3000).map(entry => [entry.report.id, entry.state, entry.lastSeenMs]), [
    ['A', 'suspect', 1500],
    ['B', 'alive', 400],
    ['C', 'dead', 3000]
  ])
})

test('forget drops a node', t => {
  const table = new LivenessTable()
  table.record(report('A', 1), 0)
  table.record(report('B', 1), 0)
  t.true(table.forget(nodeId('A')))
  t.false(table.forget(nodeId('A')))
  t.is(table.state(nodeId('A'), 1), undefined)
  t.is(table.size, 1)
  // A forgotten node that reports again is new, whatever its sequence.
  t.true(table.record(report('A', 1), 2))
})

test('a full table evicts the longest-silent node when it is dead', t => {
  const table = new LivenessTable({ suspectAfterMs: 100, deadAfterMs: 200, maxNodes: 3 })
  table.record(report('A', 1), 0)
  table.record(report('B', 1), 10)
  table.record(report('C', 1), 20)
  table.record(report('A', 2), 30) // A spoke last: B is now the longest silent
  t.true(table.record(report('D', 1), 300))
  t.deepEqual(table.list(300).map(entry => entry.report.id), ['A', 'C', 'D'])
  t.is(table.size, 3)
})

test('a full table refuses a newcomer while no node is dead, and still updates the nodes it holds', t => {
  const table = new LivenessTable({ suspectAfterMs: 100, deadAfterMs: 200, maxNodes: 2 })
  table.record(report('A', 1), 0)
  table.record(report('B', 1), 50)
  t.false(table.record(report('C', 1), 150)) // A is only suspect
  t.is(table.state(nodeId('C'), 150), undefined)
  t.true(table.record(report('B', 2), 160))
  t.true(table.record(report('C', 1), 200)) // now A is dead
  t.deepEqual(table.list(200).map(entry => entry.report.id), ['B', 'C'])
})

test('a table holds up to its bound (10,000 by default)', t => {
  const table = new LivenessTable()
  t.is(table.maxNodes, 10_000)
  for (let i = 0; i < 10_000; i++) t.true(table.record(report(`N${i}`, 1), 0), `node ${i}`)
  t.false(table.record(report('late', 1), 1))
  t.is(table.size, 10_000)
  t.true(table.record(report('late', 1), 10_000))
  t.is(table.size, 10_000)
  t.is(table.state(nodeId('N0'), 10_000), undefined)
})

test('the same calls give the same table', t => {
  const run = (): unknown => {
    const table = new LivenessTable({ suspectAfterMs: 100, deadAfterMs: 200, maxNodes: 4 })
    for (let step = 0; step < 200; step++) table.record(report(`N${(step * 7) % 9}`, Math.floor(step / 3), step * 13 % 500), step * 17)
    return table.list(200 * 17)
  }
  t.deepEqual(run(), run())
})

test('bad options and time going back are bugs', t => {
  t.throws(() => new LivenessTable({ suspectAfterMs: 0 }), { instanceOf: AssertionError })
  t.throws(() => new LivenessTable({ suspectAfterMs: 500, deadAfterMs: 400 }), { instanceOf: AssertionError })
  t.throws(() => new LivenessTable({ maxNodes: 0 }), { instanceOf: AssertionError })
  const table = new LivenessTable()
  table.record(report('A', 1), 100)
  t.throws(() => table.state(nodeId('A'), 99), { instanceOf: AssertionError })
  t.throws(() => new LivenessTable().record(report('A', -1), 0), { instanceOf: AssertionError })
})
