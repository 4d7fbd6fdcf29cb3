import test from 'ava'
import type { ContainerId, JobId, PodId, TaskId } from '../../src/lib/ids.js'
import { DecodeError } from '../../src/node/decode-error.js'
import { decodePullRequest, decodePullResponse, encodePullRequest, encodePullResponse, type PullRequest } from '../../src/node/appworker/pull-codec.js'
import type { PodCommand } from '../../src/roles/appworker/pod-status.js'
import { galaxy } from '../../src/proto/gen/appworker.js'

const request: PullRequest = {
  containerId: 'c1' as ContainerId,
  jobId: 'job1' as JobId,
  podId: 'pod1' as PodId,
  appWorkerPid: 4242,
  status: {
    phase: 'running',
    version: 'v2',
    dataVersion: 'd7',
    healthy: false,
    message: '',
    tasks: [
      { name: 'web' as TaskId, phase: 'running', version: 'v2', pid: 77, startedAtMs: 1_700_000_000_000, restarts: 2, lastExit: { code: null, signal: 'SIGSEGV', coreDumped: true, oomKilled: false, atMs: 1_700_000_000_001 }, health: 'unhealthy', reload: 'reloaded', message: 'unhealthy: connection refused' },
      { name: 'log' as TaskId, phase: 'backoff', version: 'v2', pid: 0, startedAtMs: 0, restarts: 0, lastExit: { code: 3, signal: null, coreDumped: false, oomKilled: true, atMs: 5 }, health: 'unknown', reload: 'none', message: 'exited with code 3' },
      { name: 'idle' as TaskId, phase: 'pending', version: '', pid: 0, startedAtMs: 0, restarts: 0, lastExit: undefined, health: 'unknown', reload: 'none', message: '' }
    ]
  }
}

test('a pull request survives the wire, an exit code of null and an absent exit included', t => {
  t.deepEqual(decodePullRequest(encodePullRequest(request)), request)
})

test('every command survives the wire; empty optional fields come back absent', t => {
  const commands: PodCommand[] = [
    { type: 'stop' },
    { type: 'wait' },
    { type: 'quit' },
    {
      type: 'run',
      pod: {
        version: 'v1',
        dataVersion: '',
        tasks: [{
          name: 'web' as TaskId,
          package: { url: 'http://127.0.0.1:1/a.tgz', sha256: 'ab'.repeat(32) },
          dataPackage: { url: 'http://127.0.0.1:1/d.tgz', sha256: undefined },
          deployCommand: './setup',
          startCommand: './server',
          stopCommand: undefined,
          reloadCommand: './reload',
          stopTimeoutMs: 30_000,
          restart: { mode: 'on-failure', attempts: 3, windowMs: 60_000, initialDelayMs: 1000, maxDelayMs: 30_000 },
          health: { port: 'http', command: undefined, intervalMs: 5000, timeoutMs: 1000, failures: 3, graceMs: 10_000 },
          env: { A: '1' }
        }, {
          name: 'side' as TaskId, package: undefined, dataPackage: undefined, deployCommand: undefined, startCommand: 'sleep 1', stopCommand: undefined, reloadCommand: undefined,
          stopTimeoutMs: 0, restart: { mode: 'never', attempts: 0, windowMs: 0, initialDelayMs: 0, maxDelayMs: 0 }, health: undefined, env: {}
        }]
      }
    }
  ]
  for (const command of commands) t.deepEqual(decodePullResponse(encodePullResponse(command)), command)
})

test('names outside the closed sets, a missing status or command, and garbage are DecodeErrors', t => {
  const bad = galaxy.PullRequest.encode({ containerId: 'c', status: { phase: 'dancing', tasks: [] } }).finish()
  t.is(t.throws(() => decodePullRequest(bad), { instanceOf: DecodeError })?.message, 'pod phase: unknown value "dancing"')
  t.throws(() => decodePullRequest(galaxy.PullRequest.encode({ containerId: 'c' }).finish()), { instanceOf: DecodeError })
  t.throws(() => decodePullResponse(new Uint8Array(0)), { instanceOf: DecodeError, message: 'pull response: no command' })
  t.throws(() => decodePullResponse(new Uint8Array([0x0a, 0xff, 0xff])), { instanceOf: DecodeError })
  const noPolicy = galaxy.PullResponse.encode({ run: { version: 'v', tasks: [{ name: 'web', startCommand: 'x' }] } }).finish()
  t.throws(() => decodePullResponse(noPolicy), { instanceOf: DecodeError, message: 'task web: no restart policy' })
})
