import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { GalaxyError } from '../../lib/errors.js'

/** A key or token file is missing, unreadable or malformed. */
export class KeyFileError extends GalaxyError {
  static readonly code = 'ERR_KEY_FILE'
  constructor (message: string, options?: { cause?: unknown }) {
    super(KeyFileError.code, message, options)
  }
}

/** Writes a secret file readable by its owner only, atomically (temp file + rename). */
export async function writeSecretFile (path: string, contents: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const temp = `${path}.${process.pid}.tmp`
  await writeFile(temp, contents, { mode: 0o600 })
  await rename(temp, path)
}

async function readIfPresent (path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new KeyFileError(`cannot read ${path}`, { cause: error })
  }
}

/**
 * The node's libp2p identity, kept in `path` so that a restarted node keeps its peer id (which is
 * also its Raft id). Created on first start.
 */
export async function loadOrCreatePeerKey (path: string): Promise<PrivateKey> {
  const stored = await readIfPresent(path)
  if (stored !== undefined) {
    try {
      return privateKeyFromProtobuf(stored)
    } catch (error) {
      throw new KeyFileError(`${path} does not hold a peer key`, { cause: error })
    }
  }
  const key = await generateKeyPair('Ed25519')
  await writeSecretFile(path, privateKeyToProtobuf(key))
  return key
}

/** The header every cluster key starts with (the format of a libp2p "swarm key", v1). */
const clusterKeyHeader = '/key/swarm/psk/1.0.0/'

/**
 * Checks the text of a cluster key (a header, `/base16/`, then 64 hex digits) and returns its
 * 32 secret bytes.
 */
export function parseClusterKey (text: string, source: string): Uint8Array {
  const lines = text.trim().split(/\r?\n/).map(line => line.trim())
  if (lines.length !== 3 || lines[0] !== clusterKeyHeader || lines[1] !== '/base16/' || !/^[0-9a-fA-F]{64}$/.test(lines[2] ?? '')) {
    throw new KeyFileError(`${source} is not a galaxy cluster key (expected the 3-line key written by the first seed to <data>/cluster.key)`)
  }
  return Uint8Array.from(Buffer.from(lines[2] ?? '', 'hex'))
}

/** A fresh cluster key, as text. */
export function generateClusterKey (): string {
  return `${clusterKeyHeader}\n/base16/\n${randomBytes(32).toString('hex')}\n`
}

/** Reads the cluster key from a file; undefined when the file does not exist. */
export async function readClusterKeyFile (path: string): Promise<Uint8Array | undefined> {
  const stored = await readIfPresent(path)
  return stored === undefined ? undefined : parseClusterKey(stored.toString('utf8'), path)
}

/** A fresh admin token: 32 random bytes in base64url. */
export function generateToken (): string {
  return randomBytes(32).toString('base64url')
}

/** Reads a token file; undefined when it does not exist. */
export async function readTokenFile (path: string): Promise<string | undefined> {
  const stored = await readIfPresent(path)
  if (stored === undefined) return undefined
  const token = stored.toString('utf8').trim()
  if (token === '') throw new KeyFileError(`${path} is empty`)
  return token
}
