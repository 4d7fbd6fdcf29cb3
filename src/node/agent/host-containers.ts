import { closeSync, openSync } from 'node:fs'
import { access, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import type { ContainerId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import type { ContainerHost, ProcessRef } from '../../roles/agent/agent-controller.js'
import type { HostFacts } from '../../roles/agent/agent-report.js'
import type { Placement } from '../../roles/agent/placement.js'
import type { ContainerRuntime } from '../../runtime/container/container-runtime.js'
import type { ContainerSpec } from '../../runtime/container/container-spec.js'
import type { Isolation } from '../../runtime/container/isolation.js'
import { isSameProcess, processIdentity } from '../../runtime/process/proc-stat.js'
import type { GalaxyCommand } from '../self-command.js'

/** Named limits of what the agent makes. */
export const containerDefaults = {
  /** A task's pids limit when its placement sets none. */
  taskPidsMax: 4096,
  /** The AppWorker's own cgroup: it and its probes. */
  rootLimits: { memoryBytes: 256 * 1024 * 1024, pidsMax: 512 },
  /** How long a destroyed container's directory (its logs) is kept. */
  keepDirMs: 60 * 60_000
} as const

/** The container a placement asks for. */
export function containerSpecOf (placement: Placement): ContainerSpec {
  return {
    id: placement.container,
    tasks: placement.tasks.map(task => ({
      name: task.name,
      limits: { cpuMillicores: task.cpuMillicores, cpuBurst: placement.cpuBurst, memoryBytes: task.memoryBytes, pidsMax: task.pidsMax ?? containerDefaults.taskPidsMax }
    })),
    rootLimits: containerDefaults.rootLimits,
    namespaces: placement.namespaces,
    volumes: placement.volumes,
    ports: placement.ports
  }
}

/**
 * The agent's containers on this host: the runtime makes and destroys them, and each one's
 * AppWorker is this same galaxy (`galaxy appworker`), started detached in the container's root
 * cgroup with its output in `logs/appworker.log`.
 */
export class RuntimeContainerHost implements ContainerHost {
  constructor (private readonly options: {
    readonly runtime: ContainerRuntime
    readonly isolation: Isolation
    /** The filesystem whose free space counts (the data dir). */
    readonly dataDir: string
    /** How to run galaxy (`galaxyCommand()`). */
    readonly galaxy: GalaxyCommand
    readonly keepDirMs: number
    readonly logger: Logger
  }) {}

  get isolation (): Isolation {
    return this.options.isolation
  }

  async create (placement: Placement): Promise<void> {
    await this.options.runtime.create(containerSpecOf(placement))
  }

  async startRoot (placement: Placement): Promise<ProcessRef> {
    const { runtime, galaxy } = this.options
    const paths = runtime.paths(placement.container)
    const log = openSync(join(paths.logs, 'appworker.log'), 'a')
    let child
    try {
      child = await runtime.spawn(placement.container, { kind: 'root' }, [...galaxy.argv, 'appworker', '--dir', paths.root, '--job', placement.job, '--pod', placement.pod], {
        cwd: galaxy.cwd ?? paths.root,
        env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: paths.workspace },
        stdio: ['ignore', log, log],
        detached: true
      })
    } finally {
      closeSync(log)
    }
    child.unref()
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', reject)
      child.once('spawn', () => { resolve(child.pid ?? 0) })
    })
    const identity = await processIdentity(pid)
    if (identity === undefined) throw new Error(`the AppWorker of ${placement.container} exited at once (see ${join(paths.logs, 'appworker.log')})`)
    return { pid, startTicks: identity.startTicks }
  }

  async isAlive (root: ProcessRef): Promise<boolean> {
    return await isSameProcess({ pid: root.pid, startTicks: root.startTicks })
  }

  async destroy (id: ContainerId): Promise<void> {
    await this.options.runtime.destroy(id, this.options.keepDirMs, Date.now())
  }

  async list (): Promise<ContainerId[]> {
    return await this.options.runtime.list()
  }

  async collectGarbage (): Promise<void> {
    await this.options.runtime.collectGarbage(Date.now())
  }

  async usage (id: ContainerId): Promise<{ cpuUs: number, memoryBytes: number } | undefined> {
    const usage = await this.options.runtime.usage(id)
    return usage === undefined ? undefined : { cpuUs: Math.round(usage.cpuUsageNs / 1000), memoryBytes: usage.memoryBytes }
  }

  async facts (): Promise<HostFacts> {
    const disk = await statfs(this.options.dataDir)
    const missing: string[] = []
    for (const placement of this.options.isolation.placements) {
      if (placement.version === 'missing') continue
      // An unmounted hierarchy may leave its empty mount point behind: look for a control file.
      if (!await access(join(placement.root, 'cgroup.procs')).then(() => true, () => false)) missing.push(placement.root)
    }
    return { diskFreeBytes: Number(disk.bavail) * Number(disk.bsize), diskTotalBytes: Number(disk.blocks) * Number(disk.bsize), missingCgroups: [...new Set(missing)] }
  }
}
