import { readFile, stat } from 'node:fs/promises'
import { GalaxyError } from '../../lib/errors.js'

/** A job spec file the CLI could not read; here because the CLI may not touch files itself (STYLE.md layout). */
export class SpecFileError extends GalaxyError {
  static readonly code = 'ERR_SPEC_FILE'

  constructor (message: string, options?: { cause?: unknown }) {
    super(SpecFileError.code, message, options)
  }
}

/** The largest spec file read: far above any real spec, small enough for one request. */
export const maxSpecFileBytes = 1024 * 1024

/**
 * Reads a job spec file (YAML or JSON) as text, for `galaxy job run` and `job update`. A missing,
 * unreadable, non-regular or oversized file is a `SpecFileError` with one line naming it; the
 * text itself is checked by the node that receives it.
 */
export async function readSpecFile (path: string): Promise<string> {
  try {
    const info = await stat(path)
    if (!info.isFile()) throw new SpecFileError(`cannot read job spec ${path}: not a file`)
    if (info.size > maxSpecFileBytes) throw new SpecFileError(`cannot read job spec ${path}: it is ${info.size} bytes, more than the ${maxSpecFileBytes} allowed`)
    return await readFile(path, 'utf8')
  } catch (error) {
    if (error instanceof GalaxyError) throw error
    const reasons: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', ENOTDIR: 'a parent is not a directory' }
    const code = (error as NodeJS.ErrnoException).code
    const reason = code === undefined ? undefined : reasons[code]
    // A known errno in words; anything else keeps its cause, which describeError adds to the line.
    if (reason !== undefined) throw new SpecFileError(`cannot read job spec ${path}: ${reason}`)
    throw new SpecFileError(`cannot read job spec ${path}`, { cause: error })
  }
}
