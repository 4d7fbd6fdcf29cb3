import test from 'ava'
import { parseJobSpec, restartMode, type JobSpec } from '../../../src/roles/job/job-spec.js'

const web = `
name: web
replica: 6
deploy: { step: 2, interval: 10s, breakpoint: 3, maxPerHost: 2 }
placement: { pools: [edge], labels: { zone: a } }
pod:
  volumes: [{ name: cache, size: 64MB, medium: tmpfs }]
  tasks:
    - name: server
      cpu: 500m
      memory: 256MB
      ports: [{ name: http }, { name: admin, port: 9090 }]
      package: { url: "http://10.0.0.1/web.tgz", version: "1.2.0" }
      start: ./server --port $GALAXY_PORT_HTTP
      health: { port: http }
  services: [{ name: web, port: http }]
`

function spec (text: string): JobSpec {
  const parsed = parseJobSpec(text)
  if (!parsed.ok) throw new Error(parsed.error.join('; '))
  return parsed.value
}

function errors (text: string): string[] {
  const parsed = parseJobSpec(text)
  if (parsed.ok) throw new Error('the spec was accepted')
  return parsed.error
}

test('a good spec is read with sizes in bytes, cpu in millicores, durations in ms and defaults filled in', t => {
  const job = spec(web)
  t.is(job.type, 'service')
  t.deepEqual(job.deploy, { step: 2, interval: 10_000, breakpoint: 3, maxPerHost: 2 })
  t.deepEqual(job.restart, { attempts: 10, window: 300_000, delay: 1000, maxDelay: 60_000 })
  t.is(job.stopTimeout, 30_000)
  t.like(job.pod.tasks[0], { cpu: 500, memory: 256 * 1024 * 1024, burst: false, env: {} })
  t.deepEqual(job.pod.tasks[0]?.ports, [{ name: 'http', port: 'dynamic' }, { name: 'admin', port: 9090 }])
  t.deepEqual(job.pod.tasks[0]?.health, { port: 'http', interval: 10_000, timeout: 2000, failures: 3, grace: 0 })
  t.deepEqual(job.pod.volumes, [{ name: 'cache', size: 64 * 1024 * 1024, medium: 'tmpfs' }])
  t.is(restartMode(job), 'always')
})

test('JSON is read as well, and a batch job restarts on failure by default', t => {
  const job = spec(JSON.stringify({ name: 'etl', type: 'batch', replica: 1, pod: { tasks: [{ name: 'run', cpu: 1, memory: '1GB', start: './run' }] } }))
  t.is(job.pod.tasks[0]?.cpu, 1000)
  t.is(restartMode(job), 'on-failure')
})

test('every problem names its field path and the rule', t => {
  t.deepEqual(errors('name: Web\nreplica: 20000\ndeploy: { step: 0 }\npod: { tasks: [] }\nbogus: 1'), [
    'name: must be lower-case letters, digits and inner dashes',
    'replica: must be between 0 and 10000',
    'deploy.step: must be at least 1',
    'pod.tasks: a pod needs at least one task',
    '(the spec): Unrecognized key: "bogus"'
  ])
  t.deepEqual(errors('name: web\nreplica: 1\npod: { tasks: [{ name: a, cpu: 0.001, memory: 1KB, start: x }] }'), [
    'pod.tasks.0.cpu: must be cores (0.5) or millicores (500m), at least 10m',
    'pod.tasks.0.memory: must be a size like 512MB or 2GB (1024-based), at least 4MB'
  ])
  t.deepEqual(errors('name: web\nreplica: 1\ndeploy: { interval: 2h }\npod: { tasks: [{ name: a, cpu: 1, memory: 1GB, start: x, health: {} }] }'), [
    'deploy.interval: must be a duration like 30s or 5m, at most 3600 s',
    'pod.tasks.0.health: needs a port or a command'
  ])
})

test('names, ports and references across the pod are checked once the fields are right', t => {
  t.deepEqual(errors('name: web\nreplica: 1\ndeploy: { breakpoint: 3 }\npod: { tasks: [{ name: a, cpu: 1, memory: 1GB, start: x, ports: [{ name: http, port: 80 }] }, { name: a, cpu: 1, memory: 1GB, start: y, ports: [{ name: http, port: 80 }], health: { port: grpc } }], services: [{ name: s, port: nope }] }'), [
    'pod.tasks.1.name: task a appears twice',
    'pod.tasks.1.ports.0.name: port http appears twice',
    'pod.tasks.1.ports.0.port: port 80 appears twice',
    'pod.services.0.port: names no port of the pod (http)',
    'pod.tasks.1.health.port: names no port of the pod',
    'deploy.breakpoint: must be at most the replica count (1)'
  ])
})

test('text that is not YAML, or not a mapping, is refused in one line', t => {
  t.deepEqual(errors('name: ['), ['not YAML or JSON: Flow sequence in block collection must be sufficiently indented and end with a ]'])
  t.deepEqual(errors('- 1\n- 2'), ['(the spec): Invalid input: expected object, received array'])
  t.deepEqual(errors(''), ['(the spec): Invalid input: expected object, received null'])
})
