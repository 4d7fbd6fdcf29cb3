import { open, rename } from 'node:fs/promises'
import { dirname } from 'node:path'

/** Creates `path` (mode 0600; with `exclusive`, only if it does not exist) holding `bytes`, synced to disk before it is closed. */
export async function writeSyncedFile (path: string, bytes: Uint8Array | string, options: { readonly exclusive?: boolean } = {}): Promise<void> {
  const file = await open(path, options.exclusive === true ? 'wx' : 'w', 0o600)
  try {
    await file.writeFile(bytes)
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
