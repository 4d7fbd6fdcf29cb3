import { constants, ftruncateSync, open as openCallback, readSync } from 'node:fs'
import { open, rename, stat, type FileHandle } from 'node:fs/promises'
import { promisify } from 'node:util'
import { assert } from '../../lib/assert.js'

/** How many rotated files a log may keep. */
export const maxLogFilesKept = 100
/** What `tail` answers by default: the last 64 KiB. */
export const defaultTailBytes = 64 * 1024
/** The most `tail` reads at once, so that a caller cannot have a whole log read into memory. */
export const maxTailBytes = 16 * 1024 * 1024
/** Permissions of a log file and its rotated copies: the owner writes, its group reads. */
const logFileMode = 0o640
/** The buffer a rotation copies through. */
const copyChunkBytes = 64 * 1024
/**
 * How much a rotation copies past the size it found, of what the child writes during the copy,
 * reading synchronously (a few milliseconds at most): past it, the truncate drops the rest.
 */
const maxCatchUpBytes = 4 * 1024 * 1024

const openFd = promisify(openCallback)

/**
 * Size-rotated log files of a task: `<dir>/<name>.log`, then `.log.1` (newest) … `.log.<keep>`.
 *
 * The task writes to the file directly, not through a pipe to the AppWorker, so that it survives
 * an AppWorker restart; hence the file is rotated by copytruncate: its bytes are copied to `.1`
 * and it is truncated in place, while the task keeps its fd. Because the fd is in append mode,
 * the task's next write lands at the new end (offset 0), not at its old offset past a hole of NUL
 * bytes.
 *
 * The trade-off: what the task writes between the copy's last read and the truncate is lost, once
 * per rotation. The window is bounded: the copy reads on to the end of the file, and its last read
 * and the truncate run back to back without yielding (microseconds, unless the host deschedules
 * the AppWorker between them). A write that spans a page may be seen half done by that last read,
 * so a rotated file may end in the first part of a line whose rest is lost. Rotation happens only
 * when the caller asks, so a file may grow past `maxBytes` by what the task writes in one checking
 * interval.
 *
 * Rotations and tails of one `LogFile` run one at a time; two `LogFile`s on one path must not
 * rotate concurrently.
 */
export class LogFile {
  /** The end of the last queued rotation or tail: each waits for the one before. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor (readonly path: string, private readonly limits: { maxBytes: number, keep: number }) {
    assert(Number.isSafeInteger(limits.maxBytes) && limits.maxBytes > 0, 'a log\'s maxBytes is a positive integer', { path, maxBytes: limits.maxBytes })
    assert(Number.isSafeInteger(limits.keep) && limits.keep >= 0 && limits.keep <= maxLogFilesKept, 'a log keeps 0 to maxLogFilesKept rotated files', { path, keep: limits.keep, maxLogFilesKept })
  }

  /**
   * Opens the file for a child's stdio: an fd in append mode (O_APPEND|O_CREAT, 0o640), which the
   * caller closes after spawn. Append mode is what makes copytruncate safe (see the class).
   */
  async openForChild (): Promise<number> {
    return await openFd(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, logFileMode)
  }

  /**
   * When the file is past maxBytes: copies it to `.1` (shifting older ones up, dropping past
   * `keep`) and truncates it in place (copytruncate: the child keeps its fd, and with O_APPEND its
   * next write lands at the new end). Answers whether it rotated; a missing file is not rotated.
   */
  async rotateIfLarge (): Promise<boolean> {
    return await this.inTurn(async () => await this.rotateNow())
  }

  /** The last `maxBytes` bytes (default 64 KiB, at most `maxTailBytes`) across the current file and rotated ones, oldest first. */
  async tail (maxBytes = defaultTailBytes): Promise<Buffer> {
    assert(Number.isSafeInteger(maxBytes) && maxBytes >= 0 && maxBytes <= maxTailBytes, 'a tail is 0 to maxTailBytes long', { maxBytes, maxTailBytes })
    return await this.inTurn(async () => {
      const parts: Buffer[] = []
      let remaining = maxBytes
      for (let n = 0; n <= this.limits.keep && remaining > 0; n++) {
        const part = await readLast(this.pathOf(n), remaining)
        if (part === undefined) continue
        parts.unshift(part)
        remaining -= part.length
      }
      return Buffer.concat(parts)
    })
  }

  /** The current file for 0, else the `n`th newest rotated one. */
  private pathOf (n: number): string {
    return n === 0 ? this.path : `${this.path}.${n}`
  }

  private async inTurn<T> (work: () => Promise<T>): Promise<T> {
    const turn = this.queue.then(work)
    this.queue = turn.catch(() => undefined)
    return await turn
  }

  private async rotateNow (): Promise<boolean> {
    const size = (await stat(this.path).catch(ignoreMissing))?.size
    if (size === undefined || size <= this.limits.maxBytes) return false
    const current = await open(this.path, 'r+').catch(ignoreMissing)
    if (current === undefined) return false
    try {
      if (this.limits.keep === 0) {
        await current.truncate(0)
        return true
      }
      // Renaming onto `.keep` drops the oldest.
      for (let n = this.limits.keep - 1; n >= 1; n--) await rename(this.pathOf(n), this.pathOf(n + 1)).catch(ignoreMissing)
      // Through a temporary name, so that a crash mid-copy leaves no partial `.1`.
      const temporary = `${this.pathOf(1)}.tmp`
      await copyTruncate(current, temporary, size)
      await rename(temporary, this.pathOf(1))
    } finally {
      await current.close()
    }
    return true
  }
}

/**
 * Copies `source` into a new file `target` and truncates it: asynchronously up to `sizeBytes`
 * (its size when the rotation began), then synchronously on to its end (what the child wrote
 * meanwhile), and at once the truncate. The synchronous part makes the window in which the
 * child's writes are lost one read and one truncate long, rather than round trips through the
 * thread pool, which a busy host makes milliseconds long; it stops after `maxCatchUpBytes`, so
 * that a child that writes faster than a copy reads cannot keep it going (the truncate drops the
 * rest).
 */
async function copyTruncate (source: FileHandle, target: string, sizeBytes: number): Promise<void> {
  const output = await open(target, 'w', logFileMode)
  try {
    const buffer = Buffer.alloc(copyChunkBytes)
    let position = 0
    while (position < sizeBytes) {
      const { bytesRead } = await source.read(buffer, 0, Math.min(buffer.length, sizeBytes - position), position)
      if (bytesRead === 0) break
      await output.write(buffer, 0, bytesRead)
      position += bytesRead
    }
    const rest: Buffer[] = []
    const endBytes = position + maxCatchUpBytes
    while (position < endBytes) {
      const chunk = Buffer.allocUnsafe(Math.min(copyChunkBytes, endBytes - position))
      const bytesRead = readSync(source.fd, chunk, 0, chunk.length, position)
      if (bytesRead === 0) break
      rest.push(chunk.subarray(0, bytesRead))
      position += bytesRead
    }
    ftruncateSync(source.fd, 0)
    for (const chunk of rest) await output.write(chunk)
  } finally {
    await output.close()
  }
}

/** The last `maxBytes` of `path`, or undefined when there is no such file. */
async function readLast (path: string, maxBytes: number): Promise<Buffer | undefined> {
  const file = await open(path, 'r').catch(ignoreMissing)
  if (file === undefined) return undefined
  try {
    const size = (await file.stat()).size
    const buffer = Buffer.alloc(Math.min(maxBytes, size))
    let filled = 0
    while (filled < buffer.length) {
      const { bytesRead } = await file.read(buffer, filled, buffer.length - filled, size - buffer.length + filled)
      // Shorter than its size: truncated meanwhile by a rotation elsewhere.
      if (bytesRead === 0) break
      filled += bytesRead
    }
    return buffer.subarray(0, filled)
  } finally {
    await file.close()
  }
}

/** For `.catch`: a missing file answers undefined, any other error is thrown on. */
function ignoreMissing (error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
  throw error
}
