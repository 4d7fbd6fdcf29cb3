// fetchPackage against real things: a node:http server on 127.0.0.1, tar.gz archives made here with
// the tar package, and temporary directories. Every test closes its server and removes its dirs.
import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { gzipSync } from 'node:zlib'
import test, { type ExecutionContext } from 'ava'
import { create, list } from 'tar'
import { fetchPackage, PackageError, type PackageSource } from '../../src/runtime/package/fetch-package.js'
import { testIf } from '../helpers/host.js'
import { tempDir } from '../helpers/temp-dir.js'

// Only root can give the archived files another owner, and only root's tar would apply it.
const asRoot = testIf(process.getuid?.() === 0, 'root (to make an archive whose files have another owner)')

/** Bounds each test, well under ava's own timeout. */
const testTimeoutMs = 15_000

const limits = { timeoutMs: 5_000, maxBytes: 16 * 1024 * 1024 }

interface FileSpec { readonly content: string | Buffer, readonly mode?: number }

/** A tar.gz of `files` (paths relative to the archive's root), made by the tar package itself. */
async function makeArchive (t: ExecutionContext, files: Readonly<Record<string, FileSpec>>): Promise<Buffer> {
  const root = tempDir(t)
  const source = join(root, 'source')
  for (const [path, spec] of Object.entries(files)) {
    mkdirSync(dirname(join(source, path)), { recursive: true })
    writeFileSync(join(source, path), spec.content)
    if (spec.mode !== undefined) chmodSync(join(source, path), spec.mode)
  }
  const file = join(root, 'archive.tgz')
  await create({ gzip: true, portable: true, file, cwd: source }, Object.keys(files))
  return readFileSync(file)
}

type Route = (request: IncomingMessage, response: ServerResponse) => void

/** A real HTTP server on 127.0.0.1 for this test; answers 404 for paths it was not given. */
async function serve (t: ExecutionContext, routes: Readonly<Record<string, Route | Buffer>>): Promise<string> {
  const server = createServer((request, response) => {
    const route = routes[request.url ?? '']
    if (route === undefined) { response.writeHead(404).end(); return }
    if (Buffer.isBuffer(route)) { response.writeHead(200, { 'content-length': route.length }).end(route); return }
    route(request, response)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function sha256Of (data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/** A download dir and a target dir under a fresh temporary dir. */
function dirsOf (t: ExecutionContext): { downloadDir: string, targetDir: string } {
  const root = tempDir(t)
  return { downloadDir: join(root, 'downloads'), targetDir: join(root, 'package') }
}

/** Runs fetchPackage expecting a PackageError; answers it. */
async function refused (t: ExecutionContext, source: PackageSource, targets: { downloadDir: string, targetDir: string }, use = limits): Promise<PackageError> {
  const error = await t.throwsAsync(fetchPackage(source, targets, use), { instanceOf: PackageError })
  t.is(error?.code, 'ERR_PACKAGE')
  t.false(error?.message.includes('\n'), 'one line')
  t.regex(error?.message ?? '', /^package /)
  return error as PackageError
}

/** What a download dir holds: after a failure, nothing of the failed fetch. */
function downloadsIn (dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : []
}

test('an http package is fetched, hashed and unpacked with its files and executable bits', async t => {
  t.timeout(testTimeoutMs)
  const archive = await makeArchive(t, {
    'bin/start': { content: '#!/bin/sh\necho started\n', mode: 0o755 },
    'config/app.json': { content: '{"port":8080}', mode: 0o644 }
  })
  const base = await serve(t, { '/app.tgz': archive })
  const targets = dirsOf(t)
  const result = await fetchPackage({ url: `${base}/app.tgz` }, targets, limits)
  t.deepEqual(result, { sha256: sha256Of(archive), bytes: archive.length })
  t.is(readFileSync(join(targets.targetDir, 'bin/start'), 'utf8'), '#!/bin/sh\necho started\n')
  t.is(readFileSync(join(targets.targetDir, 'config/app.json'), 'utf8'), '{"port":8080}')
  t.not(statSync(join(targets.targetDir, 'bin/start')).mode & 0o100, 0, 'the executable stays executable')
  t.is(statSync(join(targets.targetDir, 'config/app.json')).mode & 0o111, 0, 'a plain file stays plain')
  t.deepEqual(downloadsIn(targets.downloadDir), [`${result.sha256}.tar.gz`], 'the complete download is kept under its hash')
})

test('a right sha256 (in either case) deploys; a wrong one is refused, unpacks nothing and leaves no download', async t => {
  t.timeout(testTimeoutMs)
  const archive = await makeArchive(t, { 'new.txt': { content: 'new version' } })
  const base = await serve(t, { '/app.tgz': archive })
  const url = `${base}/app.tgz`
  const right = sha256Of(archive)

  const accepted = dirsOf(t)
  t.is((await fetchPackage({ url, sha256: right.toUpperCase() }, accepted, limits)).sha256, right)
  t.is(readFileSync(join(accepted.targetDir, 'new.txt'), 'utf8'), 'new version')

  const targets = dirsOf(t)
  mkdirSync(targets.targetDir, { recursive: true })
  writeFileSync(join(targets.targetDir, 'old.txt'), 'old version')
  const wrong = 'ab'.repeat(32)
  const error = await refused(t, { url, sha256: wrong }, targets)
  t.is(error.message, `package ${url}: sha256 is ${right}, expected ${wrong}`)
  t.deepEqual(readdirSync(targets.targetDir), ['old.txt'], 'the target dir is left as it was')
  t.deepEqual(downloadsIn(targets.downloadDir), [], 'no temp file is left')
})

test('a sha256 that is not 64 hex digits is refused before fetching', async t => {
  t.timeout(testTimeoutMs)
  let requests = 0
  const base = await serve(t, { '/app.tgz': (_request, response) => { requests++; response.end() } })
  const targets = dirsOf(t)
  for (const sha256 of ['abc', 'g'.repeat(64), `${'a'.repeat(64)}\n`]) {
    const error = await refused(t, { url: `${base}/app.tgz`, sha256 }, targets)
    t.regex(error.message, /sha256 must be 64 hex digits/)
  }
  t.is(requests, 0)
  t.false(existsSync(targets.targetDir))
})

test('an HTTP 404 is an error naming the status', async t => {
  t.timeout(testTimeoutMs)
  const base = await serve(t, {})
  const targets = dirsOf(t)
  const error = await refused(t, { url: `${base}/app.tgz` }, targets)
  t.is(error.message, `package ${base}/app.tgz: HTTP 404 Not Found`)
  t.deepEqual(downloadsIn(targets.downloadDir), [])
})

test('credentials in an http url are sent as basic auth and never shown', async t => {
  t.timeout(testTimeoutMs)
  const archive = await makeArchive(t, { 'app.txt': { content: 'app' } })
  const expected = `Basic ${Buffer.from('deploy:hunter 2').toString('base64')}`
  const base = await serve(t, {
    '/app.tgz': (request, response) => {
      if (request.headers.authorization === expected) response.writeHead(200).end(archive)
      else response.writeHead(401).end()
    }
  })
  const targets = dirsOf(t)
  const url = base.replace('http://', 'http://deploy:hunter%202@') + '/app.tgz'
  t.is((await fetchPackage({ url }, targets, limits)).sha256, sha256Of(archive))
  t.is(readFileSync(join(targets.targetDir, 'app.txt'), 'utf8'), 'app')

  const wrong = await refused(t, { url: base.replace('http://', 'http://deploy:wrong@') + '/app.tgz' }, targets)
  t.is(wrong.message, `package ${base}/app.tgz: HTTP 401 Unauthorized`)
})

test('an unreachable server is an error with the reason as its cause', async t => {
  t.timeout(testTimeoutMs)
  // A port that was just listened on and then closed: nothing answers there.
  const closed = await new Promise<number>(resolve => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as AddressInfo).port
      probe.close(() => { resolve(port) })
    })
  })
  const error = await refused(t, { url: `http://127.0.0.1:${closed}/app.tgz` }, dirsOf(t))
  t.regex(error.message, /download failed \(.*ECONNREFUSED.*\)$/)
  t.log(error.message)
  t.truthy(error.cause)
})

test('a file:// url and a plain absolute path are copied from the filesystem', async t => {
  t.timeout(testTimeoutMs)
  const archive = await makeArchive(t, { 'hello.txt': { content: 'hello' } })
  const file = join(tempDir(t), 'app.tgz')
  writeFileSync(file, archive)
  for (const url of [pathToFileURL(file).href, file]) {
    const targets = dirsOf(t)
    const result = await fetchPackage({ url, sha256: sha256Of(archive) }, targets, limits)
    t.deepEqual(result, { sha256: sha256Of(archive), bytes: archive.length }, url)
    t.is(readFileSync(join(targets.targetDir, 'hello.txt'), 'utf8'), 'hello', url)
  }
})

test('a missing file says no such file', async t => {
  t.timeout(testTimeoutMs)
  const missing = join(tempDir(t), 'x', 'y.tgz')
  const targets = dirsOf(t)
  t.is((await refused(t, { url: missing }, targets)).message, `package ${missing}: no such file`)
  t.is((await refused(t, { url: pathToFileURL(missing).href }, targets)).message, `package ${pathToFileURL(missing).href}: no such file`)
  t.is((await refused(t, { url: dirname(missing) }, targets)).message, `package ${dirname(missing)}: no such file`)
  t.is((await refused(t, { url: tempDir(t) }, targets)).message.endsWith(': not a regular file'), true)
  t.deepEqual(downloadsIn(targets.downloadDir), [])
})

test('a relative path and an unknown scheme are refused with one line', async t => {
  t.timeout(testTimeoutMs)
  const targets = dirsOf(t)
  for (const url of ['app.tgz', './app.tgz', '../app.tgz', 'ftp://127.0.0.1/app.tgz', 's3://bucket/app.tgz', '']) {
    const error = await refused(t, { url }, targets)
    t.is(error.message, `package ${url}: not an absolute path or a file:, http: or https: url`)
  }
  const remote = await refused(t, { url: 'file://example.com/app.tgz' }, targets)
  t.regex(remote.message, /^package file:\/\/example\.com\/app\.tgz: not a local file url/)
  const newline = await refused(t, { url: 'app.tgz\nsecond line' }, targets)
  t.is(newline.message, 'package app.tgz?second line: not an absolute path or a file:, http: or https: url')
  t.false(existsSync(targets.targetDir))
})

test('a file that is not a tar.gz archive is refused and leaves the target dir as it was', async t => {
  t.timeout(testTimeoutMs)
  const notGzip = Buffer.from('<html>login required</html>')
  const gzipNotTar = gzipSync(Buffer.from('plain text, compressed but with no tar header\n'.repeat(200)))
  const truncated = (await makeArchive(t, { 'big.bin': { content: randomBytes(64 * 1024) } })).subarray(0, 10_000)
  const base = await serve(t, { '/page.tgz': notGzip, '/random.tgz': gzipNotTar, '/truncated.tgz': truncated })
  const targets = dirsOf(t)
  mkdirSync(targets.targetDir, { recursive: true })
  writeFileSync(join(targets.targetDir, 'old.txt'), 'old version')

  const page = await refused(t, { url: `${base}/page.tgz` }, targets)
  t.is(page.message, `package ${base}/page.tgz: not a tar.gz archive (no gzip header)`)
  t.deepEqual(readdirSync(targets.targetDir), ['old.txt'], 'no gzip header: the target dir is untouched')

  for (const name of ['random', 'truncated']) {
    const error = await refused(t, { url: `${base}/${name}.tgz` }, targets)
    t.regex(error.message, new RegExp(`^package ${base}/${name}\\.tgz: not a tar\\.gz archive \\(.+\\)$`), error.message)
    t.log(error.message)
    t.truthy(error.cause)
    t.deepEqual(readdirSync(targets.targetDir), ['old.txt'], `${name}: the target dir is untouched`)
  }
  t.deepEqual(downloadsIn(targets.downloadDir), [])
})

test('a download past maxBytes stops with an error, whether or not its length is declared', async t => {
  t.timeout(testTimeoutMs)
  const archive = await makeArchive(t, { 'big.bin': { content: randomBytes(256 * 1024) } })
  let chunkedBytesSent = 0
  const base = await serve(t, {
    '/declared.tgz': archive,
    // No content-length: the limit must be enforced on the stream itself. Sends until told to stop.
    '/chunked.tgz': (request, response) => {
      response.writeHead(200)
      const chunk = archive.subarray(0, 16 * 1024)
      const send = (): void => {
        while (!response.destroyed && chunkedBytesSent < 64 * 1024 * 1024) {
          chunkedBytesSent += chunk.length
          if (!response.write(chunk)) { response.once('drain', send); return }
        }
        response.end()
      }
      request.socket.once('close', () => { response.destroy() })
      send()
    }
  })
  const file = join(tempDir(t), 'app.tgz')
  writeFileSync(file, archive)
  const small = { timeoutMs: 5_000, maxBytes: 64 * 1024 }
  for (const url of [`${base}/declared.tgz`, `${base}/chunked.tgz`, file]) {
    const targets = dirsOf(t)
    const error = await refused(t, { url }, targets, small)
    t.is(error.message, `package ${url}: larger than the limit of ${small.maxBytes} bytes`)
    t.deepEqual(downloadsIn(targets.downloadDir), [], 'no temp file is left')
    t.false(existsSync(join(targets.targetDir, 'big.bin')))
  }
  t.true(chunkedBytesSent < 64 * 1024 * 1024, `the server was stopped after ${chunkedBytesSent} bytes`)
})

test('a fetch that does not finish within timeoutMs stops with an error', async t => {
  t.timeout(testTimeoutMs)
  const archive = await makeArchive(t, { 'app.txt': { content: 'app' } })
  const base = await serve(t, {
    // Headers and the first bytes, then nothing: a server that hangs mid-body.
    '/hang.tgz': (_request, response) => { response.writeHead(200, { 'content-length': archive.length }); response.write(archive.subarray(0, 10)) }
  })
  const targets = dirsOf(t)
  const started = performance.now()
  const error = await refused(t, { url: `${base}/hang.tgz` }, targets, { timeoutMs: 300, maxBytes: limits.maxBytes })
  t.is(error.message, `package ${base}/hang.tgz: not fetched within 300 ms`)
  t.true(performance.now() - started < 5_000)
  t.deepEqual(downloadsIn(targets.downloadDir), [])
})

test('an archive entry with ../ does not escape the target dir and refuses the package', async t => {
  t.timeout(testTimeoutMs)
  // Made the way an attacker would: tar.c from a subdir, naming a file of its parent, paths preserved.
  const root = tempDir(t)
  mkdirSync(join(root, 'inner'))
  writeFileSync(join(root, 'inner', 'good.txt'), 'good')
  writeFileSync(join(root, 'escape.txt'), 'evil')
  const file = join(root, 'evil.tgz')
  await create({ gzip: true, portable: true, preservePaths: true, file, cwd: join(root, 'inner') }, ['good.txt', '../escape.txt'])
  const names: string[] = []
  await list({ file, onReadEntry: entry => { names.push(entry.path) } })
  t.deepEqual(names, ['good.txt', '../escape.txt'], 'the archive does hold a ../ entry')

  const targets = dirsOf(t)
  const error = await refused(t, { url: file }, targets)
  t.is(error.message, `package ${file}: cannot unpack entry ../escape.txt: path contains '..'`)
  t.false(existsSync(join(dirname(targets.targetDir), 'escape.txt')), 'nothing landed beside the target dir')
  t.deepEqual(readdirSync(targets.targetDir), [], 'the half-unpacked package is removed')
  t.deepEqual(downloadsIn(targets.downloadDir), [])
})

test('setuid, setgid and sticky bits in an archive are dropped', async t => {
  t.timeout(testTimeoutMs)
  const archive = await makeArchive(t, { 'bin/tool': { content: '#!/bin/sh\n', mode: 0o7755 } })
  const file = join(tempDir(t), 'app.tgz')
  writeFileSync(file, archive)
  const modes: number[] = []
  await list({ file, onReadEntry: entry => { modes.push(entry.mode ?? 0) } })
  t.is((modes[0] ?? 0) & 0o7000, 0o7000, 'the archive does carry the bits')
  const targets = dirsOf(t)
  await fetchPackage({ url: file }, targets, limits)
  const mode = statSync(join(targets.targetDir, 'bin/tool')).mode
  t.is(mode & 0o7000, 0, `mode ${(mode & 0o7777).toString(8)}`)
  t.not(mode & 0o100, 0, 'still executable')
})

asRoot('the owners recorded in an archive are not applied: root unpacks files it owns', async t => {
  t.timeout(testTimeoutMs)
  const root = tempDir(t)
  const source = join(root, 'source')
  mkdirSync(source)
  writeFileSync(join(source, 'owned.txt'), 'owned by someone else')
  chownSync(join(source, 'owned.txt'), 4242, 4242)
  const file = join(root, 'app.tgz')
  // Not portable, so that the archive records the owner.
  await create({ gzip: true, file, cwd: source }, ['owned.txt'])
  const owners: Array<number | undefined> = []
  await list({ file, onReadEntry: entry => { owners.push(entry.uid) } })
  t.deepEqual(owners, [4242], 'the archive does record the other owner')
  const targets = dirsOf(t)
  await fetchPackage({ url: file }, targets, limits)
  const stats = statSync(join(targets.targetDir, 'owned.txt'))
  t.deepEqual([stats.uid, stats.gid], [process.getuid?.(), process.getgid?.()])
})

test('a symlink inside the package is kept as a link; one pointing outside refuses the package', async t => {
  t.timeout(testTimeoutMs)
  const root = tempDir(t)
  const inside = join(root, 'inside')
  mkdirSync(join(inside, 'lib'), { recursive: true })
  writeFileSync(join(inside, 'lib', 'real.so'), 'library')
  symlinkSync('real.so', join(inside, 'lib', 'alias.so'))
  const good = join(root, 'good.tgz')
  await create({ gzip: true, portable: true, file: good, cwd: inside }, ['lib'])
  const targets = dirsOf(t)
  await fetchPackage({ url: good }, targets, limits)
  t.true(lstatSync(join(targets.targetDir, 'lib', 'alias.so')).isSymbolicLink())
  t.is(readlinkSync(join(targets.targetDir, 'lib', 'alias.so')), 'real.so')

  for (const [name, target] of [['absolute', '/etc/passwd'], ['relative', '../../../etc']] as const) {
    const source = join(root, name)
    mkdirSync(source)
    symlinkSync(target, join(source, 'link'))
    const archive = join(root, `${name}.tgz`)
    await create({ gzip: true, portable: true, file: archive, cwd: source }, ['link'])
    const error = await refused(t, { url: archive }, targets)
    t.is(error.message, `package ${archive}: cannot unpack entry link: links to ${target}, outside the package`)
    t.deepEqual(readdirSync(targets.targetDir), [])
  }
})

test('a redeploy empties the target dir of the old version before unpacking the new one', async t => {
  t.timeout(testTimeoutMs)
  const v1 = await makeArchive(t, { 'app/v1-only.txt': { content: 'v1' }, 'app/shared.txt': { content: 'shared v1' } })
  const v2 = await makeArchive(t, { 'app/shared.txt': { content: 'shared v2' }, 'app/v2-only.txt': { content: 'v2' } })
  const base = await serve(t, { '/v1.tgz': v1, '/v2.tgz': v2 })
  const targets = dirsOf(t)
  await fetchPackage({ url: `${base}/v1.tgz`, sha256: sha256Of(v1) }, targets, limits)
  writeFileSync(join(targets.targetDir, 'written-at-run-time.log'), 'log')
  await fetchPackage({ url: `${base}/v2.tgz`, sha256: sha256Of(v2) }, targets, limits)
  t.deepEqual(readdirSync(targets.targetDir), ['app'])
  t.deepEqual(readdirSync(join(targets.targetDir, 'app')).sort(), ['shared.txt', 'v2-only.txt'])
  t.is(readFileSync(join(targets.targetDir, 'app', 'shared.txt'), 'utf8'), 'shared v2')
  t.deepEqual(downloadsIn(targets.downloadDir).sort(), [`${sha256Of(v1)}.tar.gz`, `${sha256Of(v2)}.tar.gz`].sort())
})
