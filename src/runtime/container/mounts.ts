import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { GalaxyError } from '../../lib/errors.js'
import { parseMountinfo } from '../host/mountinfo.js'

/** A mount or unmount that failed. */
export class MountError extends GalaxyError {
  static readonly code = 'ERR_MOUNT'

  constructor (message: string, options?: { cause?: unknown }) {
    super(MountError.code, message, options)
  }
}

/** How long one `mount` or `umount` may take. */
const mountTimeoutMs = 10_000

/** Mounts a tmpfs of `sizeBytes` at `dir`. */
export async function mountTmpfs (dir: string, sizeBytes: number): Promise<void> {
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir])
  await makePrivate(dir)
}

/** Bind-mounts `hostPath` at `dir`, read-only when asked (a bind mount becomes read-only by a remount). */
export async function mountBind (hostPath: string, dir: string, readOnly: boolean): Promise<void> {
  await run('mount', ['--bind', hostPath, dir])
  try {
    await makePrivate(dir)
    if (readOnly) await run('mount', ['-o', 'remount,bind,ro', dir])
  } catch (error) {
    await run('umount', [dir]).catch(() => undefined)
    throw error
  }
}

/**
 * On a host whose mounts are shared (systemd makes them so), a bind mount joins the host's peer
 * group: mounts would propagate between the volume and the host path both ways, and unmounting
 * the volume's copy would unmount the host's. A private mount shares nothing.
 */
async function makePrivate (dir: string): Promise<void> {
  await run('mount', ['--make-rprivate', dir])
}

/** The mount points at or under `dir`, deepest first, from this process's mount table. */
export async function mountsUnder (dir: string): Promise<string[]> {
  const mounts = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'))
  return mounts.map(mount => mount.mountPoint)
    .filter(point => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length)
}

/** Unmounts everything at or under `dir`, deepest first; detaches what is busy rather than fail. */
export async function unmountAll (dir: string): Promise<void> {
  for (const point of await mountsUnder(dir)) {
    await run('umount', [point]).catch(async () => { await run('umount', ['--lazy', point]) })
  }
}

async function run (command: string, args: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(command, args, { timeout: mountTimeoutMs }, (error, _stdout, stderr) => {
      if (error === null) resolve()
      else reject(new MountError(`${command} ${args.join(' ')} failed: ${stderr.trim().split('\n')[0] ?? error.message}`, { cause: error }))
    })
  })
}
