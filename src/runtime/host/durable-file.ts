import { open, rename } from 'node:fs/promises'
import { dirname } from 'node:path'

/** Named bounds of durable writes. */
export const durableFileLimits = {
  /**
   * A large file is synced after each this many bytes, so that its data never piles up unwritten:
   * one sync of tens of megabytes holds up every other sync on the disk (the Raft log's) until
   * it is all written.
   */
  syncEveryBytes: 1 << 20
}

/** Creates `path` (mode 0600; with `exclusive`, only if it does not exist) holding `bytes`, synced to disk before it is closed. */
export async function writeSyncedFile (path: string, bytes: Uint8Array | string, options: { readonly exclusive?: boolean } = {}): Promise<void> {
  const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes
  const file = await open(path, options.exclusive === true ? 'wx' : 'w', 0o600)
  try {
    let offset = 0
    do {
      const end = Math.min(data.byteLength, offset + durableFileLimits.syncEveryBytes)
      while (offset < end) offset += (await file.write(data, offset, end - offset)).bytesWritten
      if (offset < data.byteLength) await file.datasync()
    } while (offset < data.byteLength)
    await file.sync()
  } finally {
    await file.close()
  }
}

/** Syncs a directory, so that the names just created or renamed in it survive a crash. */
export async function syncDirectory (path: string): Promise<void> {
  const directory = await open(path, 'r')
  try {
    await directory.sync()
  } finally {
    await directory.close()
  }
}

/**
 * Replaces `path` whole and durably: the bytes go to `<path>.tmp`, are synced, take the name, and
 * the directory is synced. A crash leaves the old file or the new one (and perhaps the `.tmp`).
 */
export async function replaceFileDurably (path: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${path}.tmp`
  await writeSyncedFile(temporary, bytes)
  await rename(temporary, path)
  await syncDirectory(dirname(path))
}
