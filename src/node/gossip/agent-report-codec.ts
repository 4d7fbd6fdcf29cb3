import type { ContainerId, JobId, PodId } from '../../lib/ids.js'
import { galaxy } from '../../proto/gen/gossip.js'
import type { AgentReport, ContainerReport } from '../../roles/agent/agent-report.js'
import type { Resources } from '../../roles/agent/allocation.js'
import { failReport, readInteger } from './report-decode.js'

// Every value each name-like field may take. As records over the union types, the compiler
// insists on every member, so a new state or phase cannot be forgotten here.
const isolations: Readonly<Record<AgentReport['isolation'], true>> = { full: true, degraded: true }
const healths: Readonly<Record<AgentReport['health'], true>> = { healthy: true, unhealthy: true }
const states: Readonly<Record<ContainerReport['state'], true>> = {
  creating: true, running: true, stopping: true, dead: true, failed: true, refused: true
}
const phases: Readonly<Record<ContainerReport['phase'], true>> = {
  pending: true, deploying: true, starting: true, running: true, stopping: true, stopped: true, finished: true, failed: true, unknown: true
}

/** The agent's part of a node report as its protobuf message (`galaxy.AgentReport`). */
export function toAgentReportMessage (report: AgentReport): galaxy.AgentReport.$Properties {
  return {
    isolation: report.isolation,
    isolationReasons: [...report.isolationReasons],
    health: report.health,
    problems: [...report.problems],
    reserved: toResourcesMessage(report.reserved),
    allocated: toResourcesMessage(report.allocated),
    usageCpuMillicores: report.usage.cpuMillicores,
    usageMemoryBytes: report.usage.memoryBytes,
    containers: report.containers.map(toContainerMessage)
  }
}

/**
 * Reads the agent's part of a node report. Throws `DecodeError` (and nothing else) when a name
 * is not one of its type's (isolation, health, a container's state or phase), a container has no
 * id, `reserved` or `allocated` is missing, or an integer is at or past 2^53.
 */
export function fromAgentReportMessage (message: galaxy.AgentReport.$Properties): AgentReport {
  return {
    isolation: named(isolations, message.isolation, 'agent isolation'),
    isolationReasons: [...(message.isolationReasons ?? [])],
    health: named(healths, message.health, 'agent health'),
    problems: [...(message.problems ?? [])],
    reserved: fromResourcesMessage(message.reserved, 'agent reserved'),
    allocated: fromResourcesMessage(message.allocated, 'agent allocated'),
    usage: {
      cpuMillicores: readInteger(message.usageCpuMillicores, 'agent usage cpuMillicores'),
      memoryBytes: readInteger(message.usageMemoryBytes, 'agent usage memoryBytes')
    },
    containers: (message.containers ?? []).map((container, index) => fromContainerMessage(container, `agent container ${index}`))
  }
}

function toResourcesMessage (resources: Resources): galaxy.Resources.$Properties {
  return { cpuMillicores: resources.cpuMillicores, memoryBytes: resources.memoryBytes, diskBytes: resources.diskBytes }
}

function toContainerMessage (container: ContainerReport): galaxy.ContainerReport.$Properties {
  return {
    id: container.id,
    job: container.job,
    pod: container.pod,
    state: container.state,
    version: container.version,
    phase: container.phase,
    message: container.message,
    cpuMillicores: container.cpuMillicores,
    memoryBytes: container.memoryBytes
  }
}

function fromResourcesMessage (message: galaxy.Resources.$Properties | null | undefined, field: string): Resources {
  if (message === null || message === undefined) return failReport(`${field} is missing`)
  return {
    cpuMillicores: readInteger(message.cpuMillicores, `${field} cpuMillicores`),
    memoryBytes: readInteger(message.memoryBytes, `${field} memoryBytes`),
    diskBytes: readInteger(message.diskBytes, `${field} diskBytes`)
  }
}

function fromContainerMessage (message: galaxy.ContainerReport.$Properties, field: string): ContainerReport {
  if (message.id === null || message.id === undefined || message.id === '') failReport(`${field} has no id`)
  return {
    id: message.id as ContainerId,
    job: (message.job ?? '') as JobId,
    pod: (message.pod ?? '') as PodId,
    state: named(states, message.state, `${field} state`),
    version: message.version ?? '',
    phase: named(phases, message.phase, `${field} phase`),
    message: message.message ?? '',
    cpuMillicores: readInteger(message.cpuMillicores, `${field} cpuMillicores`),
    memoryBytes: readInteger(message.memoryBytes, `${field} memoryBytes`)
  }
}

function named<T extends string> (names: Readonly<Record<T, true>>, value: string | null | undefined, field: string): T {
  const text = value ?? ''
  // The value is cut: it comes from another node and ends up in a log line.
  if (!Object.hasOwn(names, text)) failReport(`${field} ${JSON.stringify(text.slice(0, 40))} is not one of ${Object.keys(names).join(', ')}`)
  return text as T
}
