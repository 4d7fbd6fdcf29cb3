import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { describeError } from '../../lib/errors.js'
import { embeddedAddons, NativeAddonError } from '../native-addon.js'

/** Whether a LevelDB database works where galaxy will keep its state. */
export interface StorageProbe {
  readonly ok: boolean
  readonly path: string
  /** The extracted native addon file, or `node_modules` when running from source. */
  readonly addon: string
  /** The failure was loading the native addon, not using the directory. */
  readonly addonFailed: boolean
  readonly error: string
}

/**
 * Opens a scratch LevelDB database in a fresh directory under `parentDir`, writes a key with
 * `sync: true`, reads it back, and removes everything it made. This loads the native addon, so a
 * `noexec` cache directory or a missing glibc symbol shows up here rather than at `galaxy up`.
 */
export async function probeStorage (parentDir: string): Promise<StorageProbe> {
  let path = ''
  try {
    path = await mkdtemp(join(parentDir, '.galaxy-doctor-'))
    // Loaded on demand: loading classic-level extracts and dlopens its native addon, work that
    // commands which never touch a database should not pay for.
    const { ClassicLevel } = await import('classic-level')
    const db = new ClassicLevel<string, string>(path)
    try {
      await db.put('probe', 'ok', { sync: true })
      const value = await db.get('probe')
      if (value !== 'ok') throw new Error(`read back ${JSON.stringify(value)} instead of "ok"`)
    } finally {
      await db.close()
    }
    return { ok: true, path, addon: addonSource(), addonFailed: false, error: '' }
  } catch (error) {
    return { ok: false, path, addon: addonSource(), addonFailed: error instanceof NativeAddonError, error: describeError(error) }
  } finally {
    if (path !== '') await rm(path, { recursive: true, force: true })
  }
}

function addonSource (): string {
  return embeddedAddons().find(addon => addon.name === 'classic-level')?.path ?? 'node_modules'
}
