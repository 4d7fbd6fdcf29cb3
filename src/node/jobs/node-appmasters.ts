import type { JobId, NodeId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import { answerPull, lostPods, podRecordOf, settleJob, type KnownPod, type PodPull } from '../../roles/appmaster/pod-director.js'
import { encodeJobRecord, jobKey, type JobRecord } from '../../roles/job/job-record.js'
import { podKey, type PodRecord } from '../../roles/job/pod-record.js'
import type { PodCommand } from '../../roles/appworker/pod-status.js'
import { lockKey } from '../../store/state-machine.js'
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
  writing: Promise<void>
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
  private stepping = false

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
    this.timer = setInterval(() => { void this.step() }, appMasterHostTimings.stepMs)
    void this.step()
  }

  stop (): void {
    clearInterval(this.timer)
    this.masters.clear()
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
    const holding = nowMs < master.sinceMs + appMasterHostTimings.rebuildMs && master.record.state === 'updating' &&
      answer.command.type === 'run' && pull.status.version !== '' && pull.status.version !== master.record.current.podVersion
    master.pods.set(pull.pod, holding ? { ...answer.pod, admitted: master.pods.get(pull.pod)?.admitted } : answer.pod)
    this.writePod(master, podRecordOf(master.record, master.pods.get(pull.pod) ?? answer.pod, nowMs))
    return holding ? { type: 'wait' } : answer.command
  }

  private async step (): Promise<void> {
    if (this.stepping) return
    this.stepping = true
    try {
      await this.follow()
      for (const master of this.masters.values()) await this.tend(master)
    } catch (error) {
      this.deps.logger.debug('appmaster step failed', { error: (error as Error).message })
    } finally {
      this.stepping = false
    }
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
      this.masters.set(record.name, { record, modRevision, token, sinceMs: Date.now(), pods: new Map(), written: new Map(), writing: Promise.resolve() })
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
      this.enqueue(master, async () => { await this.fencedWrite(master, [{ type: 'delete', key: podKey(master.record.name, pod) }]) })
    }
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
    this.enqueue(master, async () => {
      await this.fencedWrite(master, [{ type: 'put', key: podKey(master.record.name, record.pod), value: new TextEncoder().encode(JSON.stringify(record)) }])
    })
  }

  /** Runs the job's writes one after another, so that an older record never overwrites a newer one. */
  private enqueue (master: JobMaster, write: () => Promise<void>): void {
    master.writing = master.writing.then(write).catch(error => {
      master.written.clear()
      this.deps.logger.debug('appmaster write failed', { job: master.record.name, error: (error as Error).message })
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
