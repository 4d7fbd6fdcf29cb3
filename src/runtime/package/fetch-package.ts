import { createHash, randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { Readable, Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { fileURLToPath } from 'node:url'
import { assert } from '../../lib/assert.js'
import { GalaxyError } from '../../lib/errors.js'

/** Where a package comes from and what it must hash to. */
export interface PackageSource {
  /** An absolute path, a `file:///abs/path` URL or an `http(s)://` URL (`user:password@` is sent as basic auth). */
  readonly url: string
  /** 64 hex digits; when given, a package that hashes to anything else is refused. */
  readonly sha256?: string | undefined
}

/** A package that could not be deployed; `message` is one line a person can act on. */
export class PackageError extends GalaxyError {
  static readonly code = 'ERR_PACKAGE'

  constructor (message: string, options?: { cause?: unknown }) {
    super(PackageError.code, message, options)
  }
}

/** The bounds a fetch gets unless told otherwise: five minutes, 4 GiB. */
export const packageDefaults = { timeoutMs: 300_000, maxBytes: 4 * 1024 ** 3 } as const

/**
 * Fetches `source` into `downloadDir` (a temp file, renamed when complete), checks the sha256 when
 * given, and unpacks it (gzip'd tar) into `targetDir`, which is emptied first (created if missing).
 * Bounded: `timeoutMs` for the whole fetch, `maxBytes` for the download. Answers the sha256 of what
 * was fetched and its size.
 *
 * The complete download is kept as `<downloadDir>/<sha256>.tar.gz`. On any failure a `PackageError`
 * is thrown and nothing of this call is left in `downloadDir`; `targetDir` is untouched when the
 * fetch or the checks (sha256, a readable tar.gz to its end) fail, and emptied when the unpacking
 * itself fails, so that half a package is never mistaken for one. Entries are unpacked without
 * their owners, without setuid/setgid/sticky bits and never outside `targetDir`; an entry that tar
 * has to skip or alter for safety (a `..` path, a symlink or hard link out of the package, absolute
 * or relative) or cannot write fails the whole deploy.
 *
 * `url` may be an absolute path, `file:///abs/path` or `http(s)://`; anything else is refused, as
 * is a `sha256` that is not 64 hex digits, before anything is fetched.
 */
export async function fetchPackage (source: PackageSource, targets: { downloadDir: string, targetDir: string }, limits: { timeoutMs: number, maxBytes: number }): Promise<{ sha256: string, bytes: number }> {
  assert(Number.isSafeInteger(limits.timeoutMs) && limits.timeoutMs > 0, 'package fetch timeout must be a positive integer', { timeoutMs: limits.timeoutMs })
  assert(Number.isSafeInteger(limits.maxBytes) && limits.maxBytes > 0, 'package size limit must be a positive integer', { maxBytes: limits.maxBytes })
  const shown = showUrl(source.url)
  const location = locate(source.url, shown)
  const expected = source.sha256?.toLowerCase()
  if (expected !== undefined && !sha256Pattern.test(expected)) throw new PackageError(`package ${shown}: sha256 must be 64 hex digits, not ${JSON.stringify(source.sha256)}`)

  await mkdir(targets.downloadDir, { recursive: true })
  const partial = join(targets.downloadDir, `.partial-${randomUUID()}`)
  let complete: string
  let fetched: Fetched
  try {
    fetched = await download(location, partial, shown, limits)
    if (expected !== undefined && fetched.sha256 !== expected) throw new PackageError(`package ${shown}: sha256 is ${fetched.sha256}, expected ${expected}`)
    if (fetched.head[0] !== 0x1f || fetched.head[1] !== 0x8b) throw new PackageError(`package ${shown}: not a tar.gz archive (no gzip header)`)
    await checkArchive(partial, shown)
    complete = join(targets.downloadDir, `${fetched.sha256}.tar.gz`)
    await rename(partial, complete)
  } catch (error) {
    await rm(partial, { force: true })
    throw error
  }

  try {
    await emptyDir(targets.targetDir)
    await unpack(complete, targets.targetDir, shown)
  } catch (error) {
    await emptyDir(targets.targetDir).catch(() => undefined)
    await rm(complete, { force: true })
    throw error instanceof PackageError ? error : new PackageError(`package ${shown}: cannot empty ${targets.targetDir} (${reasonOf(error)})`, { cause: error })
  }
  return { sha256: fetched.sha256, bytes: fetched.bytes }
}

/** Where the bytes of a package are read from. */
type Location = { readonly kind: 'file', readonly path: string } | { readonly kind: 'http', readonly url: string }

/** What a download wrote: its hash, its size and its first bytes (to tell a gzip stream). */
interface Fetched { readonly sha256: string, readonly bytes: number, readonly head: Buffer }

const sha256Pattern = /^[0-9a-f]{64}$/

/** The bytes of a file's start that a gzip stream begins with: `1f 8b`. */
const headBytes = 2

function locate (url: string, shown: string): Location {
  if (url.startsWith('/')) return { kind: 'file', path: url }
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  if (parsed?.protocol === 'http:' || parsed?.protocol === 'https:') return { kind: 'http', url }
  if (parsed?.protocol === 'file:') {
    try {
      const path = fileURLToPath(parsed)
      if (isAbsolute(path)) return { kind: 'file', path }
    } catch (error) {
      throw new PackageError(`package ${shown}: not a local file url (${reasonOf(error)})`, { cause: error })
    }
  }
  throw new PackageError(`package ${shown}: not an absolute path or a file:, http: or https: url`)
}

/** Streams the package into `partial`, hashing and counting as it goes; throws past the limits. */
async function download (location: Location, partial: string, shown: string, limits: { timeoutMs: number, maxBytes: number }): Promise<Fetched> {
  const signal = AbortSignal.timeout(limits.timeoutMs)
  const tooLarge = (): PackageError => new PackageError(`package ${shown}: larger than the limit of ${limits.maxBytes} bytes`)
  const hash = createHash('sha256')
  let bytes = 0
  let head = Buffer.alloc(0)
  const measure = new Transform({
    transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      bytes += chunk.length
      if (bytes > limits.maxBytes) { callback(tooLarge()); return }
      if (head.length < headBytes) head = Buffer.concat([head, chunk.subarray(0, headBytes - head.length)])
      hash.update(chunk)
      callback(null, chunk)
    }
  })
  try {
    const body = location.kind === 'file' ? await openFile(location.path, shown, limits.maxBytes, tooLarge) : await openHttp(location.url, shown, signal, limits.maxBytes, tooLarge)
    await pipeline(body, measure, createWriteStream(partial, { mode: 0o600 }), { signal })
  } catch (error) {
    if (error instanceof PackageError) throw error
    if (signal.aborted) throw new PackageError(`package ${shown}: not fetched within ${limits.timeoutMs} ms`, { cause: error })
    throw new PackageError(`package ${shown}: download failed (${reasonOf(error)})`, { cause: error })
  }
  return { sha256: hash.digest('hex'), bytes, head }
}

async function openFile (path: string, shown: string, maxBytes: number, tooLarge: () => PackageError): Promise<Readable> {
  const handle = await open(path, 'r').catch((error: unknown) => {
    throw new PackageError(`package ${shown}: ${fileProblem(error)}`, { cause: error })
  })
  try {
    const stats = await handle.stat()
    if (!stats.isFile()) throw new PackageError(`package ${shown}: not a regular file`)
    if (stats.size > maxBytes) throw tooLarge()
  } catch (error) {
    await handle.close()
    throw error
  }
  return handle.createReadStream()
}

async function openHttp (url: string, shown: string, signal: AbortSignal, maxBytes: number, tooLarge: () => PackageError): Promise<Readable> {
  // fetch refuses a url with credentials in it; they travel as basic auth instead, as curl sends them.
  const parsed = new URL(url)
  const headers: Record<string, string> = {}
  if (parsed.username !== '' || parsed.password !== '') {
    const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`
    parsed.username = ''
    parsed.password = ''
  }
  const response = await fetch(parsed, { signal, headers, redirect: 'follow' })
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined)
    throw new PackageError(`package ${shown}: HTTP ${response.status} ${response.statusText}`.trimEnd())
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined)
    throw tooLarge()
  }
  // The global fetch's stream type comes from undici's typings; at run time it is node's own.
  return response.body === null ? Readable.from([]) : Readable.fromWeb(response.body as WebReadableStream<Uint8Array>)
}

/**
 * Reads the whole archive once before anything is unpacked, so that a corrupt or truncated one is
 * refused with the target dir untouched. (tar, failing mid-extract, leaves files still being written.)
 */
async function checkArchive (file: string, shown: string): Promise<void> {
  const { list } = await loadTar()
  try {
    // strict: a bad header, a checksum failure or a truncated entry is an error, not a skipped entry.
    await list({ file, strict: true })
  } catch (error) {
    throw new PackageError(`package ${shown}: not a tar.gz archive (${reasonOf(error)})`, { cause: error })
  }
}

/** Unpacks a gzip'd tar into `targetDir`, failing on any entry tar had to skip or could not write. */
async function unpack (file: string, targetDir: string, shown: string): Promise<void> {
  const { extract, ReadEntry } = await loadTar()
  let firstProblem: string | undefined
  let problemCount = 0
  try {
    await extract({
      file,
      cwd: targetDir,
      preserveOwner: false,
      preservePaths: false,
      strict: false,
      // Runs before tar writes the entry: a package cannot make setuid, setgid or sticky files.
      onReadEntry: entry => { if (typeof entry.mode === 'number') entry.mode &= 0o777 },
      // An absolute entry path made relative (TAR_ENTRY_INFO) and a device or fifo left out
      // (TAR_ENTRY_UNSUPPORTED) are fine. An entry skipped or half written (TAR_ENTRY_ERROR) is not,
      // nor a link out of the package, which tar would drop or silently rewrite to point inside it.
      onwarn: (code, message, data) => {
        const linkpath = typeof data.linkpath === 'string' ? data.linkpath : undefined
        if (code !== 'TAR_ENTRY_ERROR' && !(code === 'TAR_ENTRY_INFO' && linkpath !== undefined)) return
        const path = data.entry instanceof ReadEntry ? data.entry.path : typeof data.path === 'string' ? data.path : undefined
        const problem = linkpath === undefined ? message : `links to ${linkpath}, outside the package`
        problemCount++
        firstProblem ??= path === undefined ? problem : `${path}: ${problem}`
      }
    })
  } catch (error) {
    throw new PackageError(`package ${shown}: cannot unpack into ${targetDir} (${reasonOf(error)})`, { cause: error })
  }
  if (firstProblem !== undefined) {
    const more = problemCount > 1 ? ` (and ${problemCount - 1} more)` : ''
    throw new PackageError(`package ${shown}: cannot unpack entry ${firstProblem}${more}`)
  }
}

/**
 * tar, loaded at the first package: most AppWorkers (one in every container) fetch none, and the
 * bundled executable evaluates a dynamically imported module only when it is imported.
 */
async function loadTar (): Promise<typeof import('tar')> {
  return await import('tar')
}

/** Makes `dir` if missing and removes everything in it, keeping the directory itself (it may be a mount). */
async function emptyDir (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true })
}

function fileProblem (error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'EISDIR') return 'not a regular file'
  return `cannot read (${reasonOf(error)})`
}

/** The url as errors show it: credentials left out, on one line. */
function showUrl (url: string): string {
  let shown = url
  if (URL.canParse(url)) {
    const parsed = new URL(url)
    if (parsed.username !== '' || parsed.password !== '') {
      parsed.username = ''
      parsed.password = ''
      shown = parsed.href
    }
  }
  // eslint-disable-next-line no-control-regex
  return shown.replace(/[\u0000-\u001f\u007f]/g, '?')
}

/** A short reason for an error: its code when it has one (ENOSPC, ECONNREFUSED), else its first line. */
function reasonOf (error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const line = message.split('\n')[0]?.trim() ?? ''
  // The global fetch says only 'fetch failed'; what happened (ECONNREFUSED, a bad certificate) is its cause.
  if (line === 'fetch failed' && error instanceof Error && error.cause !== undefined) return reasonOf(error.cause)
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (typeof code === 'string' && !line.includes(code)) return line === '' ? code : `${code}: ${line}`
  return line === '' ? 'unknown error' : line
}
