import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { durableFileLimits, replaceFileDurably, writeSyncedFile } from '../../src/runtime/host/durable-file.js'
import { tempDir } from '../helpers/temp-dir.js'

/** Bytes that differ at every offset, so a chunk written twice or skipped shows. */
function pattern (length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + (i >> 12)) & 0xff
  return bytes
}

test('a file larger than one sync chunk is written whole, at every size around the chunk boundaries', async t => {
  const dir = tempDir(t)
  const chunk = durableFileLimits.syncEveryBytes
  for (const length of [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 12_345]) {
    const path = join(dir, `f${length}`)
    const bytes = pattern(length)
    await writeSyncedFile(path, bytes)
    t.true(Buffer.from(readFileSync(path)).equals(Buffer.from(bytes)), `length ${length}`)
    t.is(statSync(path).mode & 0o777, 0o600)
  }
  await writeSyncedFile(join(dir, 'text'), 'héllo')
  t.is(readFileSync(join(dir, 'text'), 'utf8'), 'héllo')
})

test('an exclusive write refuses an existing file and leaves it as it was', async t => {
  const path = join(tempDir(t), 'taken')
  writeFileSync(path, 'old')
  await t.throwsAsync(writeSyncedFile(path, 'new', { exclusive: true }), { code: 'EEXIST' })
  t.is(readFileSync(path, 'utf8'), 'old')
})

test('replacing a file leaves the new bytes under its name and no temporary file', async t => {
  const path = join(tempDir(t), 'state')
  writeFileSync(path, 'old')
  const bytes = pattern(2 * durableFileLimits.syncEveryBytes + 5)
  await replaceFileDurably(path, bytes)
  t.true(Buffer.from(readFileSync(path)).equals(Buffer.from(bytes)))
  t.false(existsSync(`${path}.tmp`))
})
