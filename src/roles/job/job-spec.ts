import bytes from 'bytes'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { parseDuration } from '../../lib/duration.js'
import { err, ok, type Result } from '../../lib/result.js'

/** Named bounds of a job spec (Galaxy 3.0's, where it had them). */
export const jobSpecLimits = {
  maxReplica: 10_000,
  maxIntervalMs: 3_600_000,
  maxStopTimeoutMs: 600_000,
  maxTasks: 32,
  minCpuMillicores: 10,
  minMemoryBytes: 4 * 1024 * 1024,
  maxRestartAttempts: 1000
} as const

/** Galaxy's job types; each is also a priority (lower is more important). */
export const jobTypes = { monitor: 0, service: 100, batch: 200, besteffort: 300 } as const

const name = z.string()
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be lower-case letters, digits and inner dashes')
  .max(63, 'must be at most 63 characters')

const portName = z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'must be a lower-case letter, then letters, digits or _')

const duration = (fallback: string, maxMs: number) => z.string().default(fallback).transform((text, context) => {
  const parsed = parseDuration(text)
  if (!parsed.ok || parsed.value > maxMs) {
    context.addIssue({ code: 'custom', message: `must be a duration like 30s or 5m, at most ${maxMs / 1000} s` })
    return z.NEVER
  }
  return parsed.value
})

const size = (minBytes: number) => z.union([z.number(), z.string()]).transform((value, context) => {
  const parsed = typeof value === 'number' ? value : /^\d+(\.\d+)?\s*(b|kb|mb|gb|tb)$/i.test(value) ? bytes.parse(value) : null
  if (parsed === null || !Number.isSafeInteger(parsed) || parsed < minBytes) {
    context.addIssue({ code: 'custom', message: `must be a size like 512MB or 2GB (1024-based), at least ${bytes.format(minBytes)}` })
    return z.NEVER
  }
  return parsed
})

const cpu = z.union([z.number(), z.string()]).transform((value, context) => {
  const millicores = typeof value === 'number'
    ? Math.round(value * 1000)
    : /^\d+m$/.test(value) ? Number(value.slice(0, -1)) : /^\d+(\.\d+)?$/.test(value) ? Math.round(Number(value) * 1000) : NaN
  if (!Number.isSafeInteger(millicores) || millicores < jobSpecLimits.minCpuMillicores) {
    context.addIssue({ code: 'custom', message: `must be cores (0.5) or millicores (500m), at least ${jobSpecLimits.minCpuMillicores}m` })
    return z.NEVER
  }
  return millicores
})

const packageSource = z.object({
  url: z.string().min(1, 'must not be empty'),
  version: z.string().min(1, 'must not be empty'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits').optional()
}).strict()

const health = z.object({
  port: portName.optional(),
  command: z.string().min(1, 'must not be empty').optional(),
  interval: duration('10s', 3_600_000),
  timeout: duration('2s', 600_000),
  failures: z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100').default(3),
  grace: duration('0s', 3_600_000)
}).strict().refine(check => check.port !== undefined || check.command !== undefined, 'needs a port or a command')

const task = z.object({
  name,
  cpu,
  burst: z.boolean().default(false),
  memory: size(jobSpecLimits.minMemoryBytes),
  ports: z.array(z.object({
    name: portName,
    port: z.union([z.literal('dynamic'), z.number().int().min(1, 'must be between 1 and 65535').max(65_535, 'must be between 1 and 65535')]).default('dynamic')
  }).strict()).default([]),
  package: packageSource.optional(),
  data: packageSource.optional(),
  deploy: z.string().optional(),
  start: z.string().min(1, 'must not be empty'),
  stop: z.string().optional(),
  reload: z.string().optional(),
  health: health.optional(),
  env: z.record(z.string(), z.string()).default({})
}).strict()

const jobSpecSchema = z.object({
  name,
  type: z.enum(Object.keys(jobTypes) as [keyof typeof jobTypes], { message: `must be one of ${Object.keys(jobTypes).join(', ')}` }).default('service'),
  replica: z.number().int('must be a whole number').min(0, `must be between 0 and ${jobSpecLimits.maxReplica}`).max(jobSpecLimits.maxReplica, `must be between 0 and ${jobSpecLimits.maxReplica}`),
  deploy: z.object({
    step: z.number().int().min(1, 'must be at least 1').default(1),
    interval: duration('0s', jobSpecLimits.maxIntervalMs),
    breakpoint: z.number().int().min(0, 'must be 0 or more').optional(),
    maxPerHost: z.number().int().min(0, 'must be 0 (no limit) or more').default(0)
  }).strict().prefault({}),
  placement: z.object({
    pools: z.array(name).default([]),
    labels: z.record(z.string(), z.string()).default({}),
    strategy: z.enum(['spread', 'binpack'], { message: 'must be spread or binpack' }).default('spread')
  }).strict().prefault({}),
  restart: z.object({
    mode: z.enum(['always', 'on-failure', 'never'], { message: 'must be always, on-failure or never' }).optional(),
    attempts: z.number().int().min(0, 'must be 0 or more').max(jobSpecLimits.maxRestartAttempts, `must be at most ${jobSpecLimits.maxRestartAttempts}`).default(10),
    window: duration('5m', 86_400_000),
    delay: duration('1s', 3_600_000),
    maxDelay: duration('1m', 3_600_000)
  }).strict().prefault({}),
  stopTimeout: duration('30s', jobSpecLimits.maxStopTimeoutMs),
  pod: z.object({
    isolate: z.array(z.enum(['pid', 'mount', 'uts', 'ipc'], { message: 'must be pid, mount, uts or ipc' })).default(['pid', 'mount', 'uts', 'ipc']),
    volumes: z.array(z.object({
      name,
      size: size(1),
      medium: z.enum(['disk', 'tmpfs'], { message: 'must be disk or tmpfs' }).default('disk')
    }).strict()).default([]),
    tasks: z.array(task).min(1, 'a pod needs at least one task').max(jobSpecLimits.maxTasks, `at most ${jobSpecLimits.maxTasks} tasks`),
    services: z.array(z.object({ name, port: portName }).strict()).default([])
  }).strict()
}).strict().superRefine((spec, context) => {
  const unique = (values: readonly string[], path: (index: number) => Array<string | number>, what: string): void => {
    const seen = new Set<string>()
    values.forEach((value, index) => {
      if (seen.has(value)) context.addIssue({ code: 'custom', path: path(index), message: `${what} ${value} appears twice` })
      seen.add(value)
    })
  }
  const tasks = spec.pod.tasks
  unique(tasks.map(each => each.name), index => ['pod', 'tasks', index, 'name'], 'task')
  unique(spec.pod.volumes.map(each => each.name), index => ['pod', 'volumes', index, 'name'], 'volume')
  unique(spec.pod.services.map(each => each.name), index => ['pod', 'services', index, 'name'], 'service')
  const ports = tasks.flatMap((each, taskIndex) => each.ports.map((port, portIndex) => ({ ...port, path: ['pod', 'tasks', taskIndex, 'ports', portIndex] })))
  unique(ports.map(port => port.name), index => [...(ports[index]?.path ?? []), 'name'], 'port')
  const fixed = ports.filter(port => port.port !== 'dynamic')
  unique(fixed.map(port => String(port.port)), index => [...(fixed[index]?.path ?? []), 'port'], 'port')
  const portNames = new Set(ports.map(port => port.name))
  spec.pod.services.forEach((service, index) => {
    if (!portNames.has(service.port)) context.addIssue({ code: 'custom', path: ['pod', 'services', index, 'port'], message: `names no port of the pod (${[...portNames].join(', ') || 'it has none'})` })
  })
  tasks.forEach((each, index) => {
    if (each.health?.port !== undefined && !portNames.has(each.health.port)) context.addIssue({ code: 'custom', path: ['pod', 'tasks', index, 'health', 'port'], message: 'names no port of the pod' })
  })
  if (spec.deploy.breakpoint !== undefined && spec.deploy.breakpoint > spec.replica) {
    context.addIssue({ code: 'custom', path: ['deploy', 'breakpoint'], message: `must be at most the replica count (${spec.replica})` })
  }
})

/** A job as its spec describes it, checked, with defaults filled in and sizes, cpu and durations as numbers (bytes, millicores, ms). */
export type JobSpec = z.output<typeof jobSpecSchema>

/** The restart mode of a job's tasks: as its spec says, else `on-failure` for a batch job and `always` for the rest. */
export function restartMode (spec: JobSpec): 'always' | 'on-failure' | 'never' {
  return spec.restart.mode ?? (spec.type === 'batch' ? 'on-failure' : 'always')
}

/**
 * Reads a job spec from YAML or JSON text and checks it. On failure, one line per problem, each
 * naming the field path and the rule (`deploy.replica: must be between 0 and 10000`).
 */
export function parseJobSpec (text: string): Result<JobSpec, string[]> {
  let document: unknown
  try {
    document = parseYaml(text, { prettyErrors: false })
  } catch (error) {
    return err([`not YAML or JSON: ${(error as Error).message.split('\n')[0] ?? ''}`])
  }
  const result = jobSpecSchema.safeParse(document)
  if (result.success) return ok(result.data)
  return err(result.error.issues.map(issue => `${issue.path.length === 0 ? '(the spec)' : issue.path.join('.')}: ${issue.message}`))
}
