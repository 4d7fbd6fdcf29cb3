import { constants } from 'node:fs'
import { access, stat, statfs } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { describeError } from '../../lib/errors.js'

/** Free space and writability where a data dir is or will be. */
export interface DiskReport {
  readonly dataDir: string
  readonly exists: boolean
  /** The data dir, or its nearest existing ancestor when it has not been created yet. */
  readonly probedPath: string
  readonly writable: boolean
  readonly freeBytes: number
  readonly totalBytes: number
  readonly error: string
}

/** Measures the filesystem that holds (or will hold) `dataDir`; creates nothing. */
export async function probeDisk (dataDir: string): Promise<DiskReport> {
  const absolute = resolve(dataDir)
  let probedPath = absolute
  while (!(await exists(probedPath)) && dirname(probedPath) !== probedPath) probedPath = dirname(probedPath)
  const base = { dataDir: absolute, exists: probedPath === absolute, probedPath }
  try {
    const stats = await statfs(probedPath)
    const isDirectory = (await stat(probedPath)).isDirectory()
    const writable = isDirectory && await access(probedPath, constants.W_OK).then(() => true, () => false)
    return {
      ...base,
      writable,
      freeBytes: stats.bavail * stats.bsize,
      totalBytes: stats.blocks * stats.bsize,
      error: !isDirectory ? `${probedPath} is not a directory` : writable ? '' : `${probedPath} is not writable`
    }
  } catch (error) {
    return { ...base, writable: false, freeBytes: 0, totalBytes: 0, error: describeError(error) }
  }
}

async function exists (path: string): Promise<boolean> {
  return await access(path).then(() => true, () => false)
}
