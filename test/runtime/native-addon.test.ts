import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import test from 'ava'
import { embeddedAddons, loadEmbeddedAddon, NativeAddonError, nativeAddonDirs } from '../../src/runtime/native-addon.js'
import { canMount, mountForTest, testIf } from '../helpers/host.js'
import { tempDir } from '../helpers/temp-dir.js'

const require = createRequire(import.meta.url)
const prebuild = readFileSync(join(require.resolve('classic-level/package.json'), '..', 'prebuilds', 'linux-x64', 'classic-level.node'))

test('cache dirs are tried in order: GALAXY_NATIVE_DIR, XDG_CACHE_HOME, ~/.cache, tmp', t => {
  t.deepEqual(nativeAddonDirs({ GALAXY_NATIVE_DIR: '/opt/n', XDG_CACHE_HOME: '/x', HOME: '/h', TMPDIR: '/t' }),
    ['/opt/n', '/x/galaxy', '/h/.cache/galaxy', `/t/galaxy-native-${process.getuid?.()}`])
  t.deepEqual(nativeAddonDirs({ HOME: '/h', TMPDIR: '/t' }), ['/h/.cache/galaxy', `/t/galaxy-native-${process.getuid?.()}`])
})

test('an embedded addon is written once under its hash and loaded', t => {
  const dir = tempDir(t)
  const env = { GALAXY_NATIVE_DIR: dir }
  const binding = loadEmbeddedAddon('classic-level', prebuild, env) as Record<string, unknown>
  t.is(typeof binding.db_init, 'function')
  const loaded = embeddedAddons().at(-1)
  t.truthy(loaded)
  t.regex(loaded?.path ?? '', new RegExp(`^${dir}/classic-level-[0-9a-f]{16}\\.node$`))
  const firstWrite = statSync(loaded?.path ?? '').mtimeMs
  loadEmbeddedAddon('classic-level', prebuild, env)
  t.is(statSync(loaded?.path ?? '').mtimeMs, firstWrite, 'an intact file is reused')
})

test('a damaged cached addon is replaced', t => {
  const dir = tempDir(t)
  loadEmbeddedAddon('classic-level', prebuild, { GALAXY_NATIVE_DIR: dir })
  const path = embeddedAddons().at(-1)?.path ?? ''
  // Replace rather than overwrite: the loaded copy is mapped, and truncating it in place is SIGBUS.
  rmSync(path)
  writeFileSync(path, 'truncated')
  loadEmbeddedAddon('classic-level', prebuild, { GALAXY_NATIVE_DIR: dir })
  t.deepEqual(readFileSync(path), prebuild)
})

testIf(canMount, 'mount permission')('a noexec cache dir falls through to the next one', t => {
  const dir = tempDir(t)
  const noexec = join(dir, 'noexec')
  mountForTest(t, ['-t', 'tmpfs', '-o', 'noexec,size=8m', 'tmpfs'], noexec)
  loadEmbeddedAddon('classic-level', prebuild, { GALAXY_NATIVE_DIR: noexec, XDG_CACHE_HOME: join(dir, 'xdg') })
  t.true(embeddedAddons().at(-1)?.path.startsWith(join(dir, 'xdg', 'galaxy')))
})

test('a cache dir others can write to is not trusted', t => {
  const dir = tempDir(t)
  const shared = join(dir, 'shared')
  mkdirSync(shared, { mode: 0o777 })
  chmodSync(shared, 0o777)
  loadEmbeddedAddon('classic-level', prebuild, { GALAXY_NATIVE_DIR: shared, XDG_CACHE_HOME: join(dir, 'xdg') })
  t.true(embeddedAddons().at(-1)?.path.startsWith(join(dir, 'xdg', 'galaxy')))
  // With no other dir usable (paths under a regular file), loading fails and says why the shared one was skipped.
  const file = join(dir, 'file')
  writeFileSync(file, '')
  const error = t.throws(() => loadEmbeddedAddon('classic-level', prebuild, { GALAXY_NATIVE_DIR: shared, HOME: join(file, 'h'), TMPDIR: join(file, 't') }))
  t.regex(error?.message ?? '', /shared: .*writable by group or others/)
})

test('when no dir works the error names each one and the fix', t => {
  const dir = tempDir(t)
  const file = join(dir, 'file')
  writeFileSync(file, '')
  // A path under a regular file can be neither created nor written.
  const error = t.throws(() => loadEmbeddedAddon('classic-level', prebuild, { GALAXY_NATIVE_DIR: join(file, 'a'), HOME: join(file, 'b'), TMPDIR: join(file, 'c') }),
    { instanceOf: NativeAddonError })
  t.is(error?.code, 'ERR_NATIVE_ADDON')
  t.regex(error?.message ?? '', /set GALAXY_NATIVE_DIR/)
  t.regex(error?.message ?? '', new RegExp(`${file}/a: .*ENOTDIR`))
  t.regex(error?.message ?? '', new RegExp(`${file}/c/galaxy-native-\\d+: `))
})
