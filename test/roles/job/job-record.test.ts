import test from 'ava'
import { jobLimits, operateJob, parseJobRecord, encodeJobRecord, type JobOperation, type JobRecord } from '../../../src/roles/job/job-record.js'
import { parseJobSpec, type JobSpec } from '../../../src/roles/job/job-spec.js'

function spec (replica = 4, deploy = '{ step: 1 }'): JobSpec {
  const parsed = parseJobSpec(`name: web\nreplica: ${replica}\ndeploy: ${deploy}\npod: { tasks: [{ name: server, cpu: 100m, memory: 64MB, start: ./server }] }`)
  if (!parsed.ok) throw new Error(parsed.error.join('; '))
  return parsed.value
}

function submit (name: string, of = spec()): JobOperation {
  return { type: 'submit', version: { version: name, podVersion: `p-${name}`, dataVersion: '', spec: of } }
}

/** The record after the operations, each at the next millisecond; throws on a refusal. */
function after (...operations: JobOperation[]): JobRecord {
  let record: JobRecord | undefined
  for (const [index, operation] of operations.entries()) {
    const result = operateJob(record, operation, index + 1)
    if (!result.ok) throw new Error(result.error)
    record = result.value
  }
  if (record === undefined) throw new Error('no operations')
  return record
}

function refusal (record: JobRecord | undefined, operation: JobOperation): string {
  const result = operateJob(record, operation, 100)
  return result.ok ? 'accepted' : result.error
}

const running = (record: JobRecord): JobRecord => ({ ...record, state: 'running' })

test('a submit creates a pending job; the same version again changes only replica and policy', t => {
  const created = after(submit('v1'))
  t.like(created, { name: 'web', state: 'pending', replica: 4, step: 1, breakpoint: null, previous: null, current: { version: 'v1', submittedAtMs: 1 } })
  t.deepEqual(created.history, [{ atMs: 1, event: 'submit', version: 'v1', detail: '' }])
  const rescaled = operateJob(running(created), submit('v1', spec(6, '{ step: 2 }')), 5)
  t.like(rescaled.ok ? rescaled.value : undefined, { state: 'running', replica: 6, step: 2, current: { version: 'v1', submittedAtMs: 1 } })
})

test('a new version updates a running job from its current one; pause, continue with a breakpoint, rollback and cancel follow the update', t => {
  const updating = operateJob(running(after(submit('v1'))), submit('v2'), 10)
  if (!updating.ok) throw new Error(updating.error)
  t.like(updating.value, { state: 'updating', current: { version: 'v2' }, previous: { version: 'v1' } })
  t.like(updating.value.history.at(-1), { event: 'update', detail: 'from v1' })
  t.is(refusal(after(submit('v1')), { type: 'pause' }), 'job web is pending; only an update can be paused')
  const pausedUpdate = operateJob(updating.value, { type: 'pause' }, 11)
  if (!pausedUpdate.ok) throw new Error(pausedUpdate.error)
  t.is(pausedUpdate.value.state, 'paused')
  t.is(refusal(pausedUpdate.value, { type: 'continue', breakpoint: 5 }), 'breakpoint must be at most the replica count (4)')
  const continued = operateJob(pausedUpdate.value, { type: 'continue', breakpoint: 3 }, 12)
  t.like(continued.ok ? continued.value : undefined, { state: 'updating', breakpoint: 3 })
  const rolledBack = operateJob(pausedUpdate.value, { type: 'rollback' }, 13)
  t.like(rolledBack.ok ? rolledBack.value : undefined, { state: 'updating', current: { version: 'v1', submittedAtMs: 13 }, previous: { version: 'v2' }, breakpoint: null })
  const cancelled = operateJob(updating.value, { type: 'cancel' }, 14)
  t.like(cancelled.ok ? cancelled.value : undefined, { state: 'running', current: { version: 'v2' } })
  t.is(refusal(running(after(submit('v1'))), { type: 'rollback' }), 'job web is running; only an update can be rolled back')
})

test('a new version during an update or its pause supersedes it; a rollback then goes to the version before the first', t => {
  const updating = running(after(submit('v1')))
  for (const state of ['updating', 'paused'] as const) {
    const before = { ...(operateJob(updating, submit('v2'), 10) as { ok: true, value: JobRecord }).value, state }
    const superseded = operateJob(before, submit('v3'), 20)
    if (!superseded.ok) throw new Error(superseded.error)
    t.like(superseded.value, { state: 'updating', current: { version: 'v3' }, previous: { version: 'v1' } })
    t.like(superseded.value.history.at(-1), { event: 'update', version: 'v3', detail: `from v2, superseding its ${state} update` })
    const back = operateJob(superseded.value, { type: 'rollback' }, 21)
    t.like(back.ok ? back.value : undefined, { current: { version: 'v1' } })
  }
})

test('scale, stop and remove; a job being removed refuses everything, a stopped one runs again on submit or scale', t => {
  const job = running(after(submit('v1')))
  t.is(refusal(job, { type: 'scale', replica: -1 }), 'replica must be between 0 and 10000')
  const scaled = operateJob(job, { type: 'scale', replica: 2 }, 5)
  t.like(scaled.ok ? scaled.value : undefined, { replica: 2, state: 'running' })
  t.like(scaled.ok ? scaled.value.history.at(-1) : undefined, { event: 'scale', detail: '4 → 2' })
  const stopping = after(submit('v1'), { type: 'stop' })
  t.like(stopping, { state: 'destroying', removing: false })
  t.is(refusal(stopping, { type: 'scale', replica: 3 }), 'job web is stopping; run it again to start it')
  t.is(refusal(stopping, submit('v2')), 'job web is stopping; wait until it is done')
  const finished: JobRecord = { ...stopping, state: 'finished' }
  t.is(refusal(finished, { type: 'stop' }), 'job web is already stopped')
  t.like((operateJob(finished, submit('v2'), 9) as { ok: true, value: JobRecord }).value, { state: 'pending', current: { version: 'v2' }, previous: { version: 'v1' } })
  const removing = after(submit('v1'), { type: 'remove' })
  t.like(removing, { state: 'destroying', removing: true })
  for (const operation of [{ type: 'pause' }, { type: 'scale', replica: 1 }, { type: 'stop' }] as const) t.is(refusal(removing, operation), 'job web is being removed')
  t.is(refusal(undefined, { type: 'pause' }), 'there is no such job')
})

test('the history keeps the latest events; a record survives its encoding and anything else is not one', t => {
  let record = after(submit('v1'))
  for (let index = 0; index < jobLimits.history + 5; index++) {
    const result = operateJob(record, { type: 'scale', replica: index % 3 + 1 }, 10 + index)
    if (!result.ok) throw new Error(result.error)
    record = result.value
  }
  t.is(record.history.length, jobLimits.history)
  t.is(record.history.at(-1)?.atMs, 10 + jobLimits.history + 4)
  t.deepEqual(parseJobRecord(encodeJobRecord(record)), record)
  t.is(parseJobRecord(new TextEncoder().encode('{"name":"web"}')), undefined)
  t.is(parseJobRecord(new TextEncoder().encode('not json')), undefined)
})
