import { randomBytes } from 'node:crypto'
import { link, readFile, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { GalaxyError } from '../../lib/errors.js'
import { syncDirectory, writeSyncedFile } from '../../runtime/host/durable-file.js'

/** A snapshot file the CLI reads or writes; here because the CLI may not touch files itself (STYLE.md layout). */
export class SnapshotFileError extends GalaxyError {
  static readonly code = 'ERR_SNAPSHOT_FILE'

  constructor (message: string, options?: { cause?: unknown }) {
    super(SnapshotFileError.code, message, options)
  }
}

/** `path` exists and the caller did not ask to overwrite it. */
export class FileExistsError extends GalaxyError {
  static readonly code = 'ERR_FILE_EXISTS'

  constructor (readonly path: string) {
    super(FileExistsError.code, `${path} already exists`)
  }
}

/** The largest snapshot file read back into memory for a restore (the client's limit on a download). */
const maxSnapshotFileBytes = 2 * 1024 * 1024 * 1024

/**
 * Checks that a snapshot can be saved at `path` before it is fetched: `FileExistsError` when it
 * exists and `overwrite` is not set, so a long download is not wasted.
 */
export async function checkSnapshotTarget (path: string, options: { overwrite: boolean }): Promise<void> {
  if (options.overwrite) return
  if (await exists(path)) throw new FileExistsError(path)
}

/**
 * Writes a snapshot so that `path` holds either nothing new or all of it, never a torn file: the
 * bytes go to a temporary file beside it, are synced, and then take its name. Without `overwrite`
 * the name is taken with `link`, which fails if `path` appeared meanwhile (`FileExistsError`);
 * with it, `rename` replaces the old file atomically. The directory is synced so the name survives
 * a crash. The temporary file is removed on every failure.
 */
export async function writeSnapshotFile (path: string, bytes: Uint8Array, options: { overwrite: boolean }): Promise<void> {
  const dir = dirname(path)
  const temp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  let placed = false
  try {
    await writeSyncedFile(temp, bytes, { exclusive: true })
    if (options.overwrite) {
      await rename(temp, path)
      placed = true
    } else {
      await link(temp, path)
    }
    await syncDirectory(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST' && !options.overwrite) throw new FileExistsError(path)
    throw fileError('write', path, error)
  } finally {
    if (!placed) await unlink(temp).catch(() => undefined)
  }
}

/** Reads a snapshot file whole, refusing one larger than a snapshot can be. */
export async function readSnapshotFile (path: string): Promise<Uint8Array> {
  try {
    const info = await stat(path)
    if (!info.isFile()) throw new SnapshotFileError(`${path} is not a file`)
    if (info.size > maxSnapshotFileBytes) throw new SnapshotFileError(`${path} is ${info.size} bytes, more than a snapshot can be (${maxSnapshotFileBytes})`)
    return new Uint8Array(await readFile(path))
  } catch (error) {
    if (error instanceof GalaxyError) throw error
    throw fileError('read', path, error)
  }
}

async function exists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw fileError('check', path, error)
  }
}

/**
 * `cannot write x: permission denied`. A known errno is said in words and the cause dropped, since
 * its message would repeat it and name the temporary file; anything else keeps its cause.
 */
function fileError (action: string, path: string, error: unknown): SnapshotFileError {
  const reasons: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
    ENOSPC: 'no space left on device',
    EROFS: 'read-only file system'
  }
  const code = (error as NodeJS.ErrnoException).code
  const reason = code === undefined ? undefined : reasons[code]
  if (reason !== undefined) return new SnapshotFileError(`cannot ${action} ${path}: ${reason}`)
  return new SnapshotFileError(`cannot ${action} ${path}`, { cause: error })
}
