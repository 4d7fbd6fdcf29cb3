import test from 'ava'
import type { ContainerId, JobId, NodeId, PodId } from '../../src/lib/ids.js'
import { DecodeError } from '../../src/node/decode-error.js'
import { decodeNodeReport, encodeFittingReport, encodeNodeReport, gossipLimits } from '../../src/node/gossip/gossip-service.js'
import type { NodeReport } from '../../src/node/gossip/liveness.js'
import { galaxy } from '../../src/proto/gen/gossip.js'
import type { AgentReport, ContainerReport } from '../../src/roles/agent/agent-report.js'

const id = '12D3KooWExample' as NodeId

function container (index: number, overrides: Partial<ContainerReport> = {}): ContainerReport {
  return {
    id: `c-${String(index).padStart(6, '0')}` as ContainerId,
    job: 'web' as JobId,
    pod: `web-${index}` as PodId,
    state: 'running',
    version: 'v42',
    phase: 'running',
    message: '',
    cpuMillicores: 250 + index,
    memoryBytes: 64 * 2 ** 20 + index,
    ...overrides
  }
}

function agentReport (containers: readonly ContainerReport[]): AgentReport {
  return {
    isolation: 'degraded',
    isolationReasons: ['no cgroup v2', 'not root'],
    health: 'unhealthy',
    problems: ['disk full: 10 MiB free of 100 MiB'],
    reserved: { cpuMillicores: 500, memoryBytes: 2 ** 29, diskBytes: 2 ** 30 },
    allocated: { cpuMillicores: 12_000, memoryBytes: 2 ** 40, diskBytes: Number.MAX_SAFE_INTEGER },
    usage: { cpuMillicores: 3210, memoryBytes: 2 ** 36 + 7 },
    containers
  }
}

function nodeReport (agent?: AgentReport): NodeReport {
  return {
    id, name: 'n1', addresses: ['/ip4/10.0.0.1/tcp/1645'], api: '', roles: agent === undefined ? ['resman'] : ['agent'], pool: 'default', labels: {}, seed: false,
    capacity: { cpuCores: 16, memoryBytes: 2 ** 36, diskBytes: 2 ** 40 }, uptimeMs: 5000, sequence: 1_712_345_678_901,
    ...(agent === undefined ? {} : { agent })
  }
}

/** A well-formed wire report whose agent part is changed by `change`. */
function wireWithAgent (change: (agent: galaxy.AgentReport.$Properties) => galaxy.AgentReport.$Properties): Uint8Array {
  const good = galaxy.NodeReport.decode(encodeNodeReport(nodeReport(agentReport([container(1)]))))
  return galaxy.NodeReport.encode({ ...good, agent: change(good.agent ?? {}) }).finish()
}

test('a report with an agent part goes through its encoding unchanged', t => {
  const report = nodeReport(agentReport([
    container(1),
    container(2, { state: 'refused', phase: 'unknown', message: 'not enough memory: 1 GiB asked, 512 MiB free', cpuMillicores: 0, memoryBytes: 0 }),
    container(3, { state: 'failed', phase: 'failed', message: 'exit 137' }),
    container(4, { state: 'creating', phase: 'pending' }),
    container(5, { state: 'stopping', phase: 'stopping' }),
    container(6, { state: 'dead', phase: 'finished' })
  ]))
  t.deepEqual(decodeNodeReport(encodeNodeReport(report)), report)
  const idle: NodeReport = nodeReport({
    isolation: 'full',
    isolationReasons: [],
    health: 'healthy',
    problems: [],
    reserved: { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0 },
    allocated: { cpuMillicores: 0, memoryBytes: 0, diskBytes: 0 },
    usage: { cpuMillicores: 0, memoryBytes: 0 },
    containers: []
  })
  t.deepEqual(decodeNodeReport(encodeNodeReport(idle)), idle, 'all-zero totals survive (proto3 drops zeros)')
})

test('a report without an agent part decodes with agent undefined', t => {
  const decoded = decodeNodeReport(encodeNodeReport(nodeReport()))
  t.is(decoded.agent, undefined)
  t.false('agent' in decoded)
  t.deepEqual(decoded, nodeReport())
})

test('an agent part with a bad name, a missing total or an integer past 2^53 is a DecodeError', t => {
  const cases: Array<[string, Uint8Array]> = [
    ['bad container state', wireWithAgent(agent => ({ ...agent, containers: [{ ...agent.containers?.[0], state: 'exploded' }] }))],
    ['empty container state', wireWithAgent(agent => ({ ...agent, containers: [{ ...agent.containers?.[0], state: '' }] }))],
    ['bad container phase', wireWithAgent(agent => ({ ...agent, containers: [{ ...agent.containers?.[0], phase: 'dancing' }] }))],
    ['container without id', wireWithAgent(agent => ({ ...agent, containers: [{ ...agent.containers?.[0], id: '' }] }))],
    ['bad isolation', wireWithAgent(agent => ({ ...agent, isolation: 'partial' }))],
    ['bad health', wireWithAgent(agent => ({ ...agent, health: 'ok' }))],
    ['an inherited name', wireWithAgent(agent => ({ ...agent, health: 'toString' }))],
    ['no reserved', wireWithAgent(agent => ({ ...agent, reserved: null }))],
    ['no allocated', wireWithAgent(agent => ({ ...agent, allocated: null }))],
    ['allocated past 2^53', wireWithAgent(agent => ({ ...agent, allocated: { ...agent.allocated, memoryBytes: 2 ** 53 } }))],
    ['usage past 2^53', wireWithAgent(agent => ({ ...agent, usageMemoryBytes: 2 ** 60 }))],
    ['container memory past 2^53', wireWithAgent(agent => ({ ...agent, containers: [{ ...agent.containers?.[0], memoryBytes: 2 ** 53 }] }))]
  ]
  for (const [what, bytes] of cases) {
    const error = t.throws(() => decodeNodeReport(bytes), { instanceOf: DecodeError }, what)
    t.regex(error?.message ?? '', /^node report: agent /, what)
  }
})

test('a report over the gossip bound drops container entries from the end and keeps the totals', t => {
  const containers = Array.from({ length: 2000 }, (_, index) => container(index, { message: 'm'.repeat(40) }))
  const full = nodeReport(agentReport(containers))
  t.true(encodeNodeReport(full).length > gossipLimits.maxReportBytes, 'the test report is over the bound')
  const { report, bytes } = encodeFittingReport(full)
  t.true(bytes.length <= gossipLimits.maxReportBytes)
  t.deepEqual(decodeNodeReport(bytes), report)
  const kept = report.agent?.containers.length ?? 0
  t.true(kept > 0 && kept < containers.length)
  t.deepEqual(report.agent?.containers, containers.slice(0, kept))
  // The most that fit: one more entry would not.
  const oneMore = { ...full, agent: { ...agentReport(containers.slice(0, kept + 1)) } }
  t.true(encodeNodeReport(oneMore).length > gossipLimits.maxReportBytes)
  t.deepEqual({ ...report.agent, containers: [] }, { ...full.agent, containers: [] }, 'totals, health and isolation are kept')
  t.deepEqual({ ...report, agent: undefined }, { ...full, agent: undefined }, 'the rest of the report is kept')

  // A report that fits is returned as it is.
  const small = nodeReport(agentReport(containers.slice(0, 3)))
  t.is(encodeFittingReport(small).report, small)
  t.deepEqual(encodeFittingReport(small).bytes, encodeNodeReport(small))
})

test('a report too large even without container entries stays over the bound for the publisher to refuse', t => {
  const huge = { ...nodeReport(agentReport([container(1)])), name: 'x'.repeat(gossipLimits.maxReportBytes) }
  const { report, bytes } = encodeFittingReport(huge)
  t.deepEqual(report.agent?.containers, [])
  t.true(bytes.length > gossipLimits.maxReportBytes)
})
