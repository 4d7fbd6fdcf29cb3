import { CoalescedRun } from '../../lib/coalesced-run.js'
import type { JobId, NodeId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import { answerPull, lostPods, podRecordOf, settleJob, type KnownPod, type PodPull } from '../../roles/appmaster/pod-director.js'
import { encodeJobRecord, jobKey, jobsPrefix, type JobRecord } from '../../roles/job/job-record.js'
import { podKey, type PodRecord } from '../../roles/job/pod-record.js'
import type { PodCommand } from '../../roles/appworker/pod-status.js'
import { lockKey, storeLimits } from '../../store/state-machine.js'
import { ApiFailure } from '../api/router.js'
import type { RouterStore } from '../router-store.js'
import { readJobs } from './cluster-reads.js'
import { fenced, type RoleLease } from './role-lease.js'

/** The lock whose holder is a job's one active AppMaster. */
export function appMasterLockOf (job: JobId): string {
  return `appmaster/${job}`
}

/** A pod's pull as the node of the pod relays it to the job's AppMaster (`POST /v1/internal/pull`). */
export interface RelayedPodPull extends PodPull {
  readonly job: JobId
}

/** Named timings of a node's AppMasters. */
export const appMasterHostTimings = {
  stepMs: 1000,
  /**
   * After taking a job over, how long an update is held (stale pods told to wait) while every pod
   * pulls once, so that the new AppMaster knows which pods are already out of service before it
   * takes more out (Galaxy's safe interval, shorter: pods pull every second).
   */
  rebuildMs: 3000
} as const

interface JobMaster {
  record: JobRecord
  modRevision: number
  readonly token: number
  readonly sinceMs: number
  readonly pods: Map<string, KnownPod>
  /** What was last written of each pod (without its time), so that only changes are written. */
  readonly written: Map<string, string>
  /** Pod records not yet written, the latest of each pod (undefined: delete it); written together. */
  readonly unwritten: Map<string, PodRecord | undefined>
  flushing: boolean
}

/**
 * The AppMaster role of a node: it holds the lock `appmaster/<job>` of some jobs (taking a job
 * with no holder when it holds no more than the least busy AppMaster node, which spreads jobs
 * across nodes), answers those jobs' pod pulls with `answerPull`, writes the pods' records and the
 * job's state changes guarded by its fencing token, and lets go of a job whose lock it lost.
 */
export class NodeAppMasters {
  private readonly masters = new Map<JobId, JobMaster>()
  private timer: NodeJS.Timeout | undefined
  private readonly steps = new CoalescedRun(async () => { await this.step() }, error => {
    this.deps.logger.debug('appmaster step failed', { error: error.message })
  })
  private readonly watching = new AbortController()

  constructor (private readonly deps: {
    readonly store: RouterStore
    readonly lease: RoleLease
    readonly self: NodeId
    /** The nodes that run the AppMaster role and are alive, this one included. */
    readonly appMasterNodes: () => readonly NodeId[]
    readonly logger: Logger
  }) {
    deps.lease.onLost(() => { this.masters.clear() })
  }

  start (): void {
    this.timer = setInterval(() => { this.kick() }, appMasterHostTimings.stepMs)
    // A new job is taken, and an operation on a job followed, at once rather than at the next step.
    void this.deps.store.watch(jobsPrefix, () => { this.kick() }, this.watching.signal)
    this.kick()
  }

  stop (): void {
    clearInterval(this.timer)
    this.watching.abort()
    this.masters.clear()
  }

  /** Runs a step now, or right after the one that runs. */
  kick (): void {
    this.steps.kick()
  }


  /** The jobs this node drives. */
  jobs (): JobId[] {
    return [...this.masters.keys()]
  }

  /** Answers one relayed pull; `ERR_NOT_HOLDER` when this node does not drive the job. */
  pull (relayed: RelayedPodPull): PodCommand {
    const master = this.masters.get(relayed.job)
    if (master === undefined) throw new ApiFailure('ERR_NOT_HOLDER', `this node is not the AppMaster of job ${relayed.job}`)
    const { job: _job, ...pull } = relayed
    const nowMs = Date.now()
    const answer = answerPull(master.record, master.pods, pull, nowMs)
    const moving = answer.command.type === 'run' || answer.command.type === 'quit'
    const holding = nowMs < master.sinceMs + appMasterHostTimings.rebuildMs && master.record.state === 'updating' &&
      moving && pull.status.version !== '' && pull.status.version !== master.record.current.podVersion
    master.pods.set(pull.pod, holding ? { ...answer.pod, admitted: master.pods.get(pull.pod)?.admitted } : answer.pod)
    this.writePod(master, podRecordOf(master.record, master.pods.get(pull.pod) ?? answer.pod, nowMs))
    return holding ? { type: 'wait' } : answer.command
  }

  private async step (): Promise<void> {
    await this.follow()
    for (const master of this.masters.values()) await this.tend(master)
  }

  /** Reads the jobs and the holders of their locks: drops what this node lost, takes what has no holder. */
  private async follow (): Promise<void> {
    const { store, self } = this.deps
    const [jobs, holders] = await Promise.all([readJobs(store), store.list(lockKey('appmaster/'))])
    const holderOf = new Map(holders.map(each => [each.key.slice(lockKey('appmaster/').length), new TextDecoder().decode(each.value)]))
    const byName = new Map(jobs.map(each => [each.record.name, each]))
    for (const [name, master] of this.masters) {
      const found = byName.get(name)
      if (found === undefined || holderOf.get(name) !== self) {
        this.masters.delete(name)
        if (found === undefined) await store.unlock(appMasterLockOf(name), self).catch(() => undefined)
        continue
      }
      master.record = found.record
      master.modRevision = found.modRevision
    }
    const load = new Map<string, number>(this.deps.appMasterNodes().map(node => [node, 0]))
    for (const owner of holderOf.values()) if (load.has(owner)) load.set(owner, (load.get(owner) ?? 0) + 1)
    for (const { record, modRevision } of jobs) {
      if (holderOf.has(record.name) || record.state === 'finished') continue
      const least = Math.min(...load.values())
      if (this.masters.size > least) break
      const token = await store.tryLock(appMasterLockOf(record.name), self, await this.deps.lease.current())
      if (token === undefined) continue
      this.masters.set(record.name, { record, modRevision, token, sinceMs: Date.now(), pods: new Map(), written: new Map(), unwritten: new Map(), flushing: false })
      load.set(self, (load.get(self) ?? 0) + 1)
      this.deps.logger.info('appmaster took a job', { job: record.name, token })
    }
  }

  /** Forgets lost pods (and their records) and writes the job's state change, if any. */
  private async tend (master: JobMaster): Promise<void> {
    const nowMs = Date.now()
    for (const pod of lostPods(master.pods, nowMs)) {
      master.pods.delete(pod)
      master.written.delete(pod)
      master.unwritten.set(pod, undefined)
    }
    this.flush(master)
    const settled = settleJob(master.record, master.pods, nowMs)
    if (settled === undefined) return
    const written = await this.deps.store.txn(
      [fenced(appMasterLockOf(master.record.name), master.token), { target: 'modRevision', key: jobKey(master.record.name), op: '=', value: master.modRevision }],
      [{ type: 'put', key: jobKey(master.record.name), value: encodeJobRecord(settled) }])
    if (written.succeeded) {
      master.record = settled
      master.modRevision = written.revision
      this.deps.logger.info('job state changed', { job: settled.name, state: settled.state })
    }
  }

  private writePod (master: JobMaster, record: PodRecord): void {
    const bare = JSON.stringify({ ...record, updatedAtMs: 0 })
    if (master.written.get(record.pod) === bare) return
    master.written.set(record.pod, bare)
    master.unwritten.set(record.pod, record)
    this.flush(master)
  }

  /**
   * Writes the job's unwritten pod records, as few transactions as the store allows, until none
   * is left; one flush at a time per job, so that an older record never overwrites a newer one,
   * and whatever changes while one is in flight goes in the next. A pod's record changes a few
   * times while it starts: batching keeps naming close behind the pods when many start at once.
   */
  private flush (master: JobMaster): void {
    if (master.flushing || master.unwritten.size === 0) return
    master.flushing = true
    const encoder = new TextEncoder()
    void (async () => {
        while (master.unwritten.size > 0 && this.masters.get(master.record.name) === master) {
        const batch = [...master.unwritten].slice(0, storeLimits.opsPerTxn)
        for (const [pod] of batch) master.unwritten.delete(pod)
        const ops = batch.map(([pod, record]) => record === undefined
          ? { type: 'delete' as const, key: podKey(master.record.name, pod) }
          : { type: 'put' as const, key: podKey(master.record.name, pod), value: encoder.encode(JSON.stringify(record)) })
        await this.fencedWrite(master, ops)
      }
    })().catch(error => {
      // Written again, whole, from the next pulls.
      master.written.clear()
      master.unwritten.clear()
      this.deps.logger.debug('appmaster write failed', { job: master.record.name, error: (error as Error).message })
    }).finally(() => {
      master.flushing = false
      if (this.masters.get(master.record.name) === master) this.flush(master)
    })
  }

  private async fencedWrite (master: JobMaster, ops: Parameters<RouterStore['txn']>[1]): Promise<void> {
    const written = await this.deps.store.txn([fenced(appMasterLockOf(master.record.name), master.token)], ops)
    if (!written.succeeded) {
      this.masters.delete(master.record.name)
      this.deps.logger.warn('appmaster lost its job', { job: master.record.name })
    }
  }
}
