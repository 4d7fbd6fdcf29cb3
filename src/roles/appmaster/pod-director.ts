import type { ContainerId, NodeId, PodId } from '../../lib/ids.js'
import type { PodCommand, PodStatus } from '../appworker/pod-status.js'
import { podIndexOf, withEvent, type JobEvent, type JobRecord, type JobVersion } from '../job/job-record.js'
import { podDescriptionOf, versionShape } from '../job/pod-of-spec.js'
import { isServing, type PodRecord } from '../job/pod-record.js'

/** Named times of the AppMaster (Galaxy 3.0: `master_pod_dead_time` = 10 s). */
export const appMasterTimings = {
  /** A pod that has not pulled for this long is lost: dropped, its naming record deleted. */
  podLostMs: 10_000
} as const

/** One pull as the AppMaster receives it (relayed by the pod's node). */
export interface PodPull {
  readonly pod: PodId
  readonly container: ContainerId
  readonly node: NodeId
  /** The address of the node, where the pod's ports are reached. */
  readonly host: string
  /** Port name → number, of this pod. */
  readonly ports: Readonly<Record<string, number>>
  /** The shape of its container (`placementShape`): a pod whose shape is not the target's must quit to move. */
  readonly shape: string
  readonly status: PodStatus
}

/** What the AppMaster remembers of a pod between pulls (memory only; rebuilt from pulls after a failover). */
export interface KnownPod {
  readonly pull: PodPull
  readonly lastPullMs: number
  /** The podVersion+dataVersion ("<podVersion>/<dataVersion>") it was told to move to during an update, and when; undefined when not admitted. */
  readonly admitted?: { readonly target: string, readonly atMs: number } | undefined
  /** Since when it has been at the job's current version and serving, without a break; undefined when it is not. */
  readonly readySinceMs?: number | undefined
}

/**
 * The AppMaster's answer to one pull, and what to remember of the pod (the caller stores it under
 * `pull.pod`). A pod of a stopping job, or not among `<job>.0` to `<job>.<replica − 1>`, is
 * stopped. A fresh pod (no version yet) and a pod at the job's current version are told to run it.
 * A pod at another version moves to the current one only during an update, paced as Galaxy's
 * `step`, `interval` and `breakpoint` say (see `canAdmit`): rebuilt in place, or told to quit when
 * its container's shape is not the current version's (the ResMan then makes it again); until
 * then, and in any other state (after a cancel, during a pause), it waits and keeps its version.
 * Never mutates its inputs.
 */
export function answerPull (job: JobRecord, pods: ReadonlyMap<string, KnownPod>, pull: PodPull, nowMs: number): { readonly command: PodCommand, readonly pod: KnownPod } {
  const target = targetOf(job.current)
  const before = pods.get(pull.pod)
  const sameContainer = before !== undefined && before.pull.container === pull.container
  const ready = isAtTarget(pull, job.current) && isServing(pull.status)
  const readySinceMs = ready ? (sameContainer && before.readySinceMs !== undefined ? before.readySinceMs : nowMs) : undefined
  // An admission to an older target (before a rollback or a new update) no longer counts.
  const admitted = before?.admitted?.target === target ? before.admitted : undefined
  const known = (changes: Partial<KnownPod> = {}): KnownPod => ({ pull, lastPullMs: nowMs, admitted, readySinceMs, ...changes })
  const run: PodCommand = { type: 'run', pod: podDescriptionOf(job.current) }

  const index = podIndexOf(job.name, pull.pod)
  if (job.state === 'destroying' || job.state === 'finished' || index === undefined || index >= job.replica) {
    return { command: { type: 'stop' }, pod: known() }
  }
  if (pull.status.version === '' || isAtTarget(pull, job.current)) return { command: run, pod: known() }
  if (job.state !== 'updating') return { command: { type: 'wait' }, pod: known() }
  const move: PodCommand = pull.shape === versionShape(job.current) ? run : { type: 'quit' }
  if (admitted !== undefined) return { command: move, pod: known() }
  if (canAdmit(job, pods, pull.pod, nowMs)) return { command: move, pod: known({ admitted: { target, atMs: nowMs } }) }
  return { command: { type: 'wait' }, pod: known() }
}

/**
 * Whether one more stale pod may move to the current version now: (a) fewer than `step` other
 * pods are out of service or about to be (not serving, whatever their version — so pods still
 * moving to a superseded or rolled-back target count — or admitted and not yet at the target); (b) `interval` has passed since the latest admitted pod began
 * serving at the target; (c) fewer than `breakpoint` pods are at, or admitted to, the target.
 * Only live pods among the replica count.
 */
function canAdmit (job: JobRecord, pods: ReadonlyMap<string, KnownPod>, pod: string, nowMs: number): boolean {
  const target = targetOf(job.current)
  const live = livePods(job, pods, nowMs)
  const others = live.filter(([id]) => id !== pod).map(([, known]) => known)
  const isAdmitted = (known: KnownPod): boolean => known.admitted?.target === target
  const busy = others.filter(known => !isServing(known.pull.status) || (isAdmitted(known) && !isAtTarget(known.pull, job.current))).length
  if (busy >= job.step) return false
  const readySince = others.filter(isAdmitted).map(known => known.readySinceMs ?? -Infinity)
  if (readySince.length > 0 && nowMs < Math.max(...readySince) + job.intervalMs) return false
  const moving = live.filter(([, known]) => isAtTarget(known.pull, job.current) || isAdmitted(known)).length
  return job.breakpoint === null || moving < job.breakpoint
}

/**
 * The job record to write after its pods' latest pulls, or undefined when nothing changes:
 * `pending` becomes `running` once any pod of the job pulled (Galaxy's first fetch); an update is
 * `paused` once `breakpoint` (but not all) of the replica serve at the current version, and
 * becomes `running` (event `updated`) once every index 0..replica − 1 does. Lost pods do not count.
 */
export function settleJob (job: JobRecord, pods: ReadonlyMap<string, KnownPod>, nowMs: number): JobRecord | undefined {
  const event = (type: JobEvent['event'], detail = ''): JobEvent => ({ atMs: nowMs, event: type, version: job.current.version, detail })
  if (job.state === 'pending') {
    const pulled = [...pods.keys()].some(pod => podIndexOf(job.name, pod) !== undefined)
    return pulled ? withEvent({ ...job, state: 'running' }, event('running')) : undefined
  }
  if (job.state !== 'updating') return undefined
  const done = livePods(job, pods, nowMs).filter(([, known]) => isAtTarget(known.pull, job.current) && isServing(known.pull.status)).length
  if (done === job.replica) return withEvent({ ...job, state: 'running' }, event('updated'))
  if (job.breakpoint !== null && done >= job.breakpoint) return withEvent({ ...job, state: 'paused' }, event('paused', `at breakpoint ${job.breakpoint}`))
  return undefined
}

/** The pods that have not pulled for `timeoutMs` (lastPullMs + timeoutMs ≤ nowMs), in the map's order. */
export function lostPods (pods: ReadonlyMap<string, KnownPod>, nowMs: number, timeoutMs: number = appMasterTimings.podLostMs): string[] {
  return [...pods].filter(([, known]) => known.lastPullMs + timeoutMs <= nowMs).map(([id]) => id)
}

/**
 * The naming record of a pod from its latest pull: where it runs, its state, its tasks' restarts
 * summed, its latest problem (the pod's message, else the first task message, else empty), and
 * the job's services on its ports, each up while the pod serves (port 0 when it has no such port).
 */
export function podRecordOf (job: JobRecord, pod: KnownPod, nowMs: number): PodRecord {
  const { pull } = pod
  const status = pull.status
  const up = isServing(status)
  return {
    pod: pull.pod,
    job: job.name,
    container: pull.container,
    node: pull.node,
    host: pull.host,
    version: status.version,
    dataVersion: status.dataVersion,
    phase: status.phase,
    healthy: status.healthy,
    restarts: status.tasks.reduce((sum, task) => sum + task.restarts, 0),
    message: status.message !== '' ? status.message : status.tasks.find(task => task.message !== '')?.message ?? '',
    ports: pull.ports,
    services: job.current.spec.pod.services.map(service => ({ name: service.name, port: pull.ports[service.port] ?? 0, up })),
    updatedAtMs: nowMs
  }
}

/** The version pods move to during an update, as `admitted.target` records it. */
function targetOf (version: JobVersion): string {
  return `${version.podVersion}/${version.dataVersion}`
}

function isAtTarget (pull: PodPull, version: JobVersion): boolean {
  return pull.status.version === version.podVersion && pull.status.dataVersion === version.dataVersion
}

/** The job's pods among its replica that have pulled within `podLostMs`, as [id, known] pairs. */
function livePods (job: JobRecord, pods: ReadonlyMap<string, KnownPod>, nowMs: number): Array<[string, KnownPod]> {
  return [...pods].filter(([id, known]) => {
    const index = podIndexOf(job.name, id)
    return index !== undefined && index < job.replica && known.lastPullMs + appMasterTimings.podLostMs > nowMs
  })
}
