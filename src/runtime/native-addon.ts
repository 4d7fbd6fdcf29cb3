import { createHash } from 'node:crypto'
import { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeError, GalaxyError } from '../lib/errors.js'

/** A native addon could not be written to or loaded from any cache directory. */
export class NativeAddonError extends GalaxyError {
  static readonly code = 'ERR_NATIVE_ADDON'

  constructor (message: string, options?: { cause?: unknown }) {
    super(NativeAddonError.code, message, options)
  }
}

/** Where an addon embedded in the executable was loaded from. */
export interface LoadedAddon {
  readonly name: string
  readonly path: string
  readonly sha256: string
}

const loadedAddons: LoadedAddon[] = []

/** The addons this process loaded from its own bytes (none when running from `node_modules`). */
export function embeddedAddons (): readonly LoadedAddon[] {
  return loadedAddons
}

/**
 * The directories tried in turn for the extracted addon: `GALAXY_NATIVE_DIR`, then
 * `$XDG_CACHE_HOME/galaxy`, `~/.cache/galaxy`, then a per-user directory in tmp. A later one is
 * tried when an earlier one cannot be written or is mounted `noexec`.
 */
export function nativeAddonDirs (env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = []
  if (env.GALAXY_NATIVE_DIR) dirs.push(env.GALAXY_NATIVE_DIR)
  if (env.XDG_CACHE_HOME) dirs.push(join(env.XDG_CACHE_HOME, 'galaxy'))
  const home = env.HOME ?? safeHomedir()
  if (home) dirs.push(join(home, '.cache', 'galaxy'))
  dirs.push(join(env.TMPDIR ?? tmpdir(), `galaxy-native-${process.getuid?.() ?? 'user'}`))
  return dirs
}

/**
 * Loads a native addon whose bytes are embedded in the executable: writes them once to a file
 * named by their hash (checked, atomically renamed into place) and `dlopen`s it. A single
 * executable cannot `require` a `.node` file from inside itself, so this is the way in.
 */
export function loadEmbeddedAddon (name: string, bytes: Uint8Array, env: NodeJS.ProcessEnv = process.env): unknown {
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  const failures: string[] = []
  for (const dir of nativeAddonDirs(env)) {
    const path = join(dir, `${name}-${sha256.slice(0, 16)}.node`)
    try {
      ensureFile(dir, path, bytes, sha256)
      const module = { exports: {} as unknown }
      process.dlopen(module, path)
      loadedAddons.push({ name, path, sha256 })
      return module.exports
    } catch (error) {
      failures.push(`${dir}: ${describeError(error)}`)
    }
  }
  throw new NativeAddonError(`cannot load the embedded ${name} addon (set GALAXY_NATIVE_DIR to a writable directory on a filesystem without noexec); tried ${failures.join('; ')}`)
}

function ensureFile (dir: string, path: string, bytes: Uint8Array, sha256: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  assertPrivateDir(dir)
  if (hashOf(path) === sha256) return
  const temporary = `${path}.${process.pid}.tmp`
  try {
    writeFileSync(temporary, bytes, { mode: 0o755 })
    renameSync(temporary, path)
  } finally {
    rmSync(temporary, { force: true })
  }
}

/**
 * Code is loaded from this directory, so nobody else may be able to swap the file between its hash
 * check and the dlopen: a shared tmp dir could have been made by another user.
 */
function assertPrivateDir (dir: string): void {
  const stats = lstatSync(dir)
  if (!stats.isDirectory()) throw new Error(`${dir} is not a directory`)
  const uid = process.getuid?.()
  if (uid !== undefined && stats.uid !== uid) throw new Error(`${dir} is owned by uid ${stats.uid}, not ${uid}`)
  if ((stats.mode & 0o022) !== 0) throw new Error(`${dir} is writable by group or others`)
}

function hashOf (path: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex')
  } catch {
    return undefined
  }
}

function safeHomedir (): string | undefined {
  try {
    return homedir()
  } catch {
    return undefined
  }
}
