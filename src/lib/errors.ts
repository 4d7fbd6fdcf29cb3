/**
 * The base of every error that crosses a boundary (runtime, storage, network, API, CLI). `code`
 * is stable across releases, so callers and scripts branch on it; `message` is for people and may
 * change; `cause` keeps the lower-level error that led here.
 */
export class GalaxyError extends Error {
  readonly code: string

  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    // In the executable's bundle a class that refers to itself is named `_Name` (scripts/build.mjs).
    this.name = new.target.name.replace(/^_/, '')
  }
}

/** Bad command-line input: an unknown flag, a malformed value, a missing argument. */
export class UsageError extends GalaxyError {
  static readonly code = 'ERR_USAGE'

  constructor (message: string, options?: { cause?: unknown }) {
    super(UsageError.code, message, options)
  }
}

/**
 * One line that says what went wrong: the error's message followed by the messages of its causes
 * that add something, joined by `: ` the way Go's wrapped errors read.
 */
export function describeError (error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; current !== undefined && current !== null && depth < maxCauseDepth; depth++) {
    const message = current instanceof Error ? current.message : String(current)
    const line = message.split('\n')[0]?.trim() ?? ''
    if (line !== '' && !parts.some(part => part.includes(line))) parts.push(line)
    current = current instanceof Error ? current.cause : undefined
  }
  return parts.length === 0 ? 'unknown error' : parts.join(': ')
}

/** The stable code of an error, `ERR_INTERNAL` for anything that is not a `GalaxyError`. */
export function errorCode (error: unknown): string {
  return error instanceof GalaxyError ? error.code : 'ERR_INTERNAL'
}

/** How deep `describeError` follows a chain of causes: cycles and runaway chains stop here. */
const maxCauseDepth = 8
