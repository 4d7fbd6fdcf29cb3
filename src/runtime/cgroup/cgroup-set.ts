import { access, mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { GalaxyError } from '../../lib/errors.js'
import type { ControllerPlacement, GalaxyController } from '../host/cgroup-layout.js'
import { killQuietly } from '../process/kill-quietly.js'
import { cgroupDirs, limitWrites, v2SubtreeControllers, type CgroupDir, type CgroupLimits } from './cgroup-limits.js'
import { keyedCounters, usageFiles, usageFrom, type CgroupUsage } from './cgroup-usage.js'

/** A cgroup operation that failed: a control file that would not take its value, a cgroup that would not empty. */
export class CgroupError extends GalaxyError {
  static readonly code = 'ERR_CGROUP'

  constructor (message: string, options?: { cause?: unknown }) {
    super(CgroupError.code, message, options)
  }
}

/** Named bounds of cgroup operations. */
export const cgroupLimits = {
  /** How long killing every process of a cgroup may take before it is an error. */
  killTimeoutMs: 10_000,
  /** How long a freezer may take to report every process frozen. */
  freezeTimeoutMs: 2_000,
  pollMs: 20
} as const

/**
 * One cgroup at a relative path (`galaxy/<container>/<task>`) in every hierarchy galaxy uses on
 * this host: v2, v1, or a mix. It can be created with limits, joined (through `procsFiles`),
 * read for usage, emptied by force and removed, with its descendants.
 */
export class CgroupSet {
  private constructor (readonly path: string, readonly dirs: readonly CgroupDir[]) {}

  /** The cgroup at `path`, whether or not it exists yet. */
  static at (placements: readonly ControllerPlacement[], path: string): CgroupSet {
    return new CgroupSet(path, cgroupDirs(placements, path))
  }

  /** Creates the cgroup (and its parents) and puts `limits` in force; fine if it exists already. */
  async create (limits: CgroupLimits): Promise<void> {
    for (const cgroup of this.dirs) {
      if (cgroup.version === 'v2') await enableV2Subtree(cgroup.dir, this.path)
      await mkdir(cgroup.dir, { recursive: true })
      for (const write of limitWrites(cgroup.version, limits)) {
        if (!cgroup.controllers.includes(write.controller)) continue
        const file = join(cgroup.dir, write.file)
        try {
          await writeFile(file, write.value)
        } catch (error) {
          if (write.optional && (error as NodeJS.ErrnoException).code === 'ENOENT') continue
          throw new CgroupError(`cannot set ${file} to ${write.value}`, { cause: error })
        }
      }
    }
  }

  /** The `cgroup.procs` files a process writes its pid to, to join this cgroup in every hierarchy. */
  get procsFiles (): string[] {
    return this.dirs.map(cgroup => join(cgroup.dir, 'cgroup.procs'))
  }

  /** Whether the cgroup exists in every hierarchy. */
  async exists (): Promise<boolean> {
    const found = await Promise.all(this.dirs.map(async cgroup => await access(cgroup.dir).then(() => true, () => false)))
    return found.every(Boolean)
  }

  /** Every process in the cgroup and its descendants, in any hierarchy. */
  async pids (): Promise<number[]> {
    const pids = new Set<number>()
    for (const cgroup of this.dirs) {
      for (const dir of await subtree(cgroup.dir)) for (const pid of await readPids(dir)) pids.add(pid)
    }
    return [...pids].sort((a, b) => a - b)
  }

  /**
   * What the cgroup (with its descendants) has used. Each v1 control file is read only in the
   * hierarchy of its controller (a v2 directory holds them all), all at once: an agent reads this
   * for every container, and a file tried where it cannot be costs a failed open.
   */
  async usage (): Promise<CgroupUsage> {
    const files = new Map<string, string>()
    await Promise.all(this.dirs.flatMap(cgroup => usageFiles[cgroup.version]
      .filter(file => cgroup.version === 'v2' || cgroup.controllers.includes(controllerOfFile(file)))
      .map(async file => {
        const text = await readFile(join(cgroup.dir, file), 'utf8').catch(() => undefined)
        if (text !== undefined) files.set(file, text)
      })))
    // v1 counts OOM kills per cgroup, not per subtree (v2's memory.events does): add the descendants'.
    const v1Memory = this.dirs.find(cgroup => cgroup.version === 'v1' && cgroup.controllers.includes('memory'))
    if (v1Memory !== undefined) {
      const counts = await Promise.all((await subtree(v1Memory.dir)).map(async dir =>
        keyedCounters(await readFile(join(dir, 'memory.oom_control'), 'utf8').catch(() => '')).get('oom_kill') ?? 0))
      files.set('memory.oom_control', `oom_kill ${counts.reduce((sum, kills) => sum + kills, 0)}\n`)
    }
    return usageFrom(files)
  }

  /**
   * Kills every process in the cgroup and its descendants so that none escapes by forking: v2
   * `cgroup.kill` where the kernel has it, else freeze, SIGKILL each process, thaw — repeated until
   * the cgroup is empty. Throws if it is not empty within `killTimeoutMs`.
   */
  async killAll (): Promise<void> {
    const deadline = performance.now() + cgroupLimits.killTimeoutMs
    for (;;) {
      const pids = await this.pids()
      if (pids.length === 0) return
      if (performance.now() > deadline) throw new CgroupError(`cgroup ${this.path} still has processes ${pids.join(', ')} after ${cgroupLimits.killTimeoutMs} ms`)
      if (!await this.killByKernel()) {
        const frozen = await this.freeze(true)
        for (const pid of await this.pids()) killQuietly(pid)
        if (frozen) await this.freeze(false)
      }
      await sleep(cgroupLimits.pollMs)
    }
  }

  /** Removes the cgroup and its descendants, deepest first; it must be empty. Fine if it is gone. */
  async remove (): Promise<void> {
    for (const cgroup of this.dirs) {
      const dirs = await subtree(cgroup.dir)
      for (const dir of dirs.reverse()) {
        for (let attempt = 0; ; attempt++) {
          try {
            await rmdir(dir)
            break
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code
            if (code === 'ENOENT') break
            // A killed process leaves the cgroup a moment after it is reaped.
            if (code === 'EBUSY' && attempt < 100) {
              await sleep(cgroupLimits.pollMs)
              continue
            }
            throw new CgroupError(`cannot remove cgroup ${dir}`, { cause: error })
          }
        }
      }
    }
  }

  /** v2's `cgroup.kill` kills the whole subtree atomically (Linux 5.14). */
  private async killByKernel (): Promise<boolean> {
    const v2 = this.dirs.find(cgroup => cgroup.version === 'v2')
    if (v2 === undefined) return false
    return await writeFile(join(v2.dir, 'cgroup.kill'), '1').then(() => true, () => false)
  }

  /**
   * Freezes or thaws the cgroup; false when this host has no freezer for it. A freeze waits (up to
   * `freezeTimeoutMs`) until the kernel says every process is frozen: v1's `freezer.state` reads
   * FROZEN, v2's `cgroup.events` says `frozen 1`.
   */
  private async freeze (frozen: boolean): Promise<boolean> {
    const freezer = this.dirs.find(cgroup => cgroup.controllers.includes('freezer'))
    if (freezer === undefined) return false
    const v2 = freezer.version === 'v2'
    const control = join(freezer.dir, v2 ? 'cgroup.freeze' : 'freezer.state')
    if (!await writeFile(control, v2 ? (frozen ? '1' : '0') : (frozen ? 'FROZEN' : 'THAWED')).then(() => true, () => false)) return false
    const isFrozen = async (): Promise<boolean> => v2
      ? /^frozen 1$/m.test(await readFile(join(freezer.dir, 'cgroup.events'), 'utf8').catch(() => ''))
      : (await readFile(control, 'utf8').catch(() => '')).trim() === 'FROZEN'
    const deadline = performance.now() + cgroupLimits.freezeTimeoutMs
    while (frozen && performance.now() < deadline) {
      if (await isFrozen()) break
      await sleep(cgroupLimits.pollMs / 4)
    }
    return true
  }
}

/** The controller a usage file belongs to: its name up to the first dot. */
function controllerOfFile (file: string): GalaxyController {
  return file.slice(0, file.indexOf('.')) as GalaxyController
}

/** On v2, a cgroup's controllers must be enabled in every ancestor's `cgroup.subtree_control`. */
async function enableV2Subtree (dir: string, path: string): Promise<void> {
  const depth = path.split('/').filter(Boolean).length
  const ancestors: string[] = []
  for (let parent = dirname(dir), i = 0; i < depth; parent = dirname(parent), i++) ancestors.unshift(parent)
  for (const ancestor of ancestors) {
    await mkdir(ancestor, { recursive: true })
    const available = (await readFile(join(ancestor, 'cgroup.controllers'), 'utf8').catch(() => '')).split(/\s+/)
    for (const controller of v2SubtreeControllers) {
      if (!available.includes(controller)) continue
      await writeFile(join(ancestor, 'cgroup.subtree_control'), `+${controller}`).catch((error: unknown) => {
        throw new CgroupError(`cannot enable the ${controller} controller in ${ancestor}`, { cause: error })
      })
    }
  }
}

/** A cgroup directory and every cgroup below it, parents before children; empty when it does not exist. */
async function subtree (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined)
  if (entries === undefined) return []
  const dirs = [dir]
  for (const entry of entries) if (entry.isDirectory()) dirs.push(...await subtree(join(dir, entry.name)))
  return dirs
}

async function readPids (dir: string): Promise<number[]> {
  const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')
  return text.split('\n').filter(Boolean).map(Number)
}
