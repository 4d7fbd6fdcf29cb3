import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { lstat, mkdir, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { GalaxyError } from '../../lib/errors.js'
import { parseContainerId, type ContainerId, type TaskId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import type { CgroupLimits } from '../cgroup/cgroup-limits.js'
import { CgroupSet } from '../cgroup/cgroup-set.js'
import type { CgroupUsage } from '../cgroup/cgroup-usage.js'
import { probePort } from '../host/ports.js'
import { confinedCommand } from '../process/confined-command.js'
import { killQuietly } from '../process/kill-quietly.js'
import { checkContainerSpec, containerCgroupPath, containerPaths, type CgroupLeaf, type ContainerPaths, type ContainerSpec } from './container-spec.js'
import type { Isolation } from './isolation.js'
import { mountBind, mountsUnder, mountTmpfs, unmountAll } from './mounts.js'
import { containerPids } from './process-scan.js'

/** A container that cannot be made as asked: a bad spec, a port in use, a namespace this host lacks. */
export class ContainerError extends GalaxyError {
  static readonly code = 'ERR_CONTAINER'

  constructor (message: string, options?: { cause?: unknown }) {
    super(ContainerError.code, message, options)
  }
}

/** The variable every process of a container carries; how a degraded host finds them to kill. */
export const containerIdVariable = 'GALAXY_CONTAINER_ID'

/** The variable every process of a task carries (with the container's): a degraded host finds a task's processes by both. */
export const taskIdVariable = 'GALAXY_TASK_ID'

/** How a container was made, saved beside its spec so that its AppWorker can open it (`ContainerRuntime.open`). */
interface RuntimeRecord {
  readonly cgroupParent: string
  readonly isolation: Isolation
}

/** The marker written when a container is destroyed but its directory is kept for a while. */
const destroyedMarker = 'destroyed-at-ms'

/** How a process is started in a container. */
export interface ContainerSpawnOptions {
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  readonly stdio: StdioOptions
  /** In a session of its own, so that it outlives its parent (the AppWorker outlives the agent). */
  readonly detached: boolean
}

/**
 * Makes and destroys containers on this host: a directory tree, a cgroup per task under one
 * parent per container (v2, v1 or both), volumes (disk, tmpfs, host paths), reserved ports, and
 * optional namespaces; starts processes already inside their cgroup; reads usage from the
 * cgroups; destroys without leaving a process, cgroup or mount behind. On a host without root or
 * cgroups it runs plain process groups and says `degraded` (see `Isolation`).
 */
export class ContainerRuntime {
  constructor (private readonly init: {
    readonly containersDir: string
    /** The cgroup every container of this runtime goes under (`galaxy`, or one per node when nodes share a host). */
    readonly cgroupParent: string
    readonly isolation: Isolation
    readonly logger: Logger
  }) {}

  /**
   * The runtime a container was made by, opened from the container's directory (by its
   * AppWorker, which has no other way to know the cgroup parent and the host's isolation).
   */
  static async open (root: string, logger: Logger): Promise<{ runtime: ContainerRuntime, id: ContainerId }> {
    const id = parseContainerId(basename(root))
    if (!id.ok) throw new ContainerError(`${root} is not a container directory: ${id.error}`)
    const text = await readFile(join(root, 'state', 'runtime.json'), 'utf8').catch(() => undefined)
    if (text === undefined) throw new ContainerError(`${root} is not a container directory: it has no state/runtime.json`)
    const record = JSON.parse(text) as RuntimeRecord
    return { runtime: new ContainerRuntime({ containersDir: dirname(root), cgroupParent: record.cgroupParent, isolation: record.isolation, logger }), id: id.value }
  }

  get isolation (): Isolation {
    return this.init.isolation
  }

  paths (id: ContainerId): ContainerPaths {
    // Every path below is removed recursively on destroy: an id must never climb out of the dir.
    const checked = parseContainerId(id)
    if (!checked.ok) throw new ContainerError(checked.error)
    return containerPaths(this.init.containersDir, id)
  }

  /** Makes the container, or completes one that a crash left half made; the same spec twice is a no-op. */
  async create (spec: ContainerSpec): Promise<ContainerPaths> {
    const problem = checkContainerSpec(spec)
    if (problem !== undefined) throw new ContainerError(`container ${spec.id}: ${problem}`)
    const full = this.init.isolation.level === 'full'
    if (full) {
      const missing = spec.namespaces.filter(kind => !this.init.isolation.namespaces.includes(kind))
      if (missing.length > 0) throw new ContainerError(`container ${spec.id}: this host cannot make ${missing.join(', ')} namespaces`)
    }
    const paths = this.paths(spec.id)
    // A destroyed container's kept directory is only logs now: a new one under its id starts afresh.
    if (await readFile(join(paths.state, destroyedMarker)).then(() => true, () => false)) await this.removeDir(paths.root)
    const existing = await readFile(join(paths.state, 'spec.json'), 'utf8').catch(() => undefined)
    if (existing !== undefined && existing !== JSON.stringify(spec)) throw new ContainerError(`container ${spec.id} exists with another spec`)
    if (existing === undefined) {
      for (const port of spec.ports) {
        const probe = await probePort(`port ${port.name}`, { host: '0.0.0.0', port: port.port })
        if (probe.state !== 'free') throw new ContainerError(`container ${spec.id}: port ${port.name} (${port.port}) is not free: ${probe.error}`)
      }
    }
    try {
      for (const dir of [paths.workspace, paths.volumes, paths.logs, paths.state]) await mkdir(dir, { recursive: true })
      await this.makeVolumes(spec, paths)
      if (full) {
        await this.cgroup(spec.id).create({})
        await this.cgroup(spec.id, { kind: 'root' }).create(spec.rootLimits)
        for (const task of spec.tasks) await this.cgroup(spec.id, { kind: 'task', task: task.name }).create(task.limits)
      }
      const record: RuntimeRecord = { cgroupParent: this.init.cgroupParent, isolation: this.init.isolation }
      await writeFile(join(paths.state, 'runtime.json'), JSON.stringify(record))
      await writeFile(join(paths.state, 'spec.json'), JSON.stringify(spec))
    } catch (error) {
      // Half made and not yet recorded: nothing would ever own what was made, so undo it now.
      if (existing === undefined) await this.destroy(spec.id, 0, 0).catch(() => undefined)
      throw error
    }
    return paths
  }

  /** The spec a container was made with, or undefined when there is no such container. */
  async spec (id: ContainerId): Promise<ContainerSpec | undefined> {
    const text = await readFile(join(this.paths(id).state, 'spec.json'), 'utf8').catch(() => undefined)
    return text === undefined ? undefined : JSON.parse(text) as ContainerSpec
  }

  /** The containers on this host that are not destroyed. */
  async list (): Promise<ContainerId[]> {
    const entries = await readdir(this.init.containersDir, { withFileTypes: true }).catch(() => [])
    const ids: ContainerId[] = []
    for (const entry of entries) {
      if (!entry.isDirectory()) continue
      const id = entry.name as ContainerId
      const state = this.paths(id).state
      const [spec, destroyed] = await Promise.all([
        readFile(join(state, 'spec.json')).then(() => true, () => false),
        readFile(join(state, destroyedMarker)).then(() => true, () => false)
      ])
      if (spec && !destroyed) ids.push(id)
    }
    return ids.sort()
  }

  /**
   * Starts `argv` in a leaf of the container: already in its cgroups (and namespaces) when the
   * program's first instruction runs. A confinement that fails exits 125 without running it.
   */
  async spawn (id: ContainerId, leaf: CgroupLeaf, argv: readonly string[], options: ContainerSpawnOptions): Promise<ChildProcess> {
    const spec = await this.spec(id)
    if (spec === undefined) throw new ContainerError(`no container ${id}`)
    const full = this.init.isolation.level === 'full'
    const task = leaf.kind === 'task' ? spec.tasks.find(candidate => candidate.name === leaf.task) : undefined
    if (leaf.kind === 'task' && task === undefined) throw new ContainerError(`container ${id} has no task ${leaf.task}`)
    const limits: CgroupLimits = task?.limits ?? spec.rootLimits
    const command = confinedCommand(argv, {
      procsFiles: full ? this.cgroup(id, leaf).procsFiles : [],
      namespaces: full && leaf.kind === 'task' ? spec.namespaces : [],
      ...(full || limits.memoryBytes === undefined ? {} : { addressSpaceBytes: limits.memoryBytes })
    })
    return spawn(command.file, command.args, {
      cwd: options.cwd,
      env: { ...options.env, ...command.env, [containerIdVariable]: id },
      stdio: options.stdio,
      detached: options.detached
    })
  }

  /** What a leaf (or the whole container) has used; undefined on a degraded host, which has no cgroups to read. */
  async usage (id: ContainerId, leaf?: CgroupLeaf): Promise<CgroupUsage | undefined> {
    if (this.init.isolation.level !== 'full') return undefined
    return await this.cgroup(id, leaf).usage()
  }

  /** The processes of the container (every leaf), by pid. */
  async pids (id: ContainerId): Promise<number[]> {
    if (this.init.isolation.level === 'full') return await this.cgroup(id).pids()
    return await containerPids({ [containerIdVariable]: id })
  }

  /** Kills every process of one task, until none is left; the container stays. */
  async killTask (id: ContainerId, task: TaskId): Promise<void> {
    this.paths(id)
    if (this.init.isolation.level === 'full') await this.cgroup(id, { kind: 'task', task }).killAll()
    else await killAllByScan({ [containerIdVariable]: id, [taskIdVariable]: task }, `task ${task} of container ${id}`)
  }

  /**
   * Destroys a container: kills every process in it (no escapee survives: the cgroup is frozen
   * first), unmounts its volumes, removes its cgroups, and deletes its directory — at once, or
   * after `keepDirMs` (see `collectGarbage`). Destroying what is gone is a no-op.
   */
  async destroy (id: ContainerId, keepDirMs: number, nowMs: number): Promise<void> {
    const paths = this.paths(id)
    if (this.init.isolation.level === 'full') {
      const cgroup = this.cgroup(id)
      await cgroup.killAll()
      await cgroup.remove()
    } else {
      await killAllByScan({ [containerIdVariable]: id }, `container ${id}`)
    }
    if (keepDirMs <= 0) {
      await this.removeDir(paths.root)
    } else {
      await unmountAll(await realpath(paths.root).catch(() => paths.root))
      await mkdir(paths.state, { recursive: true })
      await writeFile(join(paths.state, destroyedMarker), String(nowMs + keepDirMs))
    }
    this.init.logger.info('container destroyed', { container: id, keepDirMs })
  }

  /**
   * Destroys every container, directories included, and removes the cgroup parent they all went
   * under: what a node with a throwaway data dir (`--dev`) leaves behind when it stops.
   */
  async destroyAll (): Promise<void> {
    for (const id of await this.list()) await this.destroy(id, 0, 0)
    if (this.init.isolation.level !== 'full') return
    const parent = CgroupSet.at(this.init.isolation.placements, this.init.cgroupParent)
    await parent.killAll()
    await parent.remove()
  }

  /** Deletes the kept directories of destroyed containers whose time is up. */
  async collectGarbage (nowMs: number): Promise<ContainerId[]> {
    const entries = await readdir(this.init.containersDir, { withFileTypes: true }).catch(() => [])
    const removed: ContainerId[] = []
    for (const entry of entries) {
      if (!entry.isDirectory()) continue
      const id = entry.name as ContainerId
      const paths = this.paths(id)
      const until = Number(await readFile(join(paths.state, destroyedMarker), 'utf8').catch(() => 'NaN'))
      if (!(until <= nowMs)) continue
      await this.removeDir(paths.root)
      removed.push(id)
    }
    return removed
  }

  /**
   * Unmounts what is mounted in a container's directory, then deletes it — never while anything
   * is still mounted there (a recursive delete would go into a host path). The mount table holds
   * resolved paths, so the directory is resolved first.
   */
  private async removeDir (root: string): Promise<void> {
    const real = await realpath(root).catch(() => undefined)
    if (real === undefined) return
    await unmountAll(real)
    const left = await mountsUnder(real)
    if (left.length > 0) throw new ContainerError(`cannot delete ${real}: ${left.join(', ')} still mounted`)
    await rm(real, { recursive: true, force: true })
  }

  private cgroup (id: ContainerId, leaf?: CgroupLeaf): CgroupSet {
    return CgroupSet.at(this.init.isolation.placements, containerCgroupPath(this.init.cgroupParent, id, leaf))
  }

  private async makeVolumes (spec: ContainerSpec, paths: ContainerPaths): Promise<void> {
    const full = this.init.isolation.level === 'full'
    const volumesDir = await realpath(paths.volumes)
    const mounted = new Set(await mountsUnder(volumesDir))
    for (const volume of spec.volumes) {
      const dir = join(paths.volumes, volume.name)
      if (mounted.has(join(volumesDir, volume.name))) continue
      if (volume.kind === 'host' && !full) {
        // Without root there is no bind mount: a link, and the read-only flag is not enforced.
        await symlink(volume.hostPath, dir).catch((error: NodeJS.ErrnoException) => { if (error.code !== 'EEXIST') throw error })
        continue
      }
      await mkdir(dir, { recursive: true })
      // A symlink here (left by a degraded run) would send the mount onto its target.
      if (!(await lstat(dir)).isDirectory()) throw new ContainerError(`volume ${volume.name} of container ${spec.id} is not a directory: ${dir}`)
      if (!full) continue
      if (volume.kind === 'tmpfs') await mountTmpfs(dir, volume.sizeBytes)
      else if (volume.kind === 'host') await mountBind(volume.hostPath, dir, volume.readOnly)
    }
  }
}

/** Without cgroups: kill every process that carries `wanted` in its environment, until none is left. */
async function killAllByScan (wanted: Readonly<Record<string, string>>, what: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = await containerPids(wanted)
    if (pids.length === 0) return
    for (const pid of pids) killQuietly(pid)
    await sleep(20)
  }
  throw new ContainerError(`${what} still has processes after 50 rounds of SIGKILL`)
}
