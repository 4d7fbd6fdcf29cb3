// Generates static protobufjs code (ESM) and its type declarations from proto/**/*.proto into
// src/proto/gen/. The output is never edited by hand and never committed; build, test and
// `npm ci` (through `prepare`) regenerate it. Files are replaced atomically and only when they
// change, so a build running beside the tests never shows them a half-written module.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const protoDir = join(root, 'proto')
const outDir = join(root, 'src', 'proto', 'gen')
const bin = name => join(root, 'node_modules', '.bin', name)

const protos = readdirSync(protoDir, { recursive: true })
  .filter(name => name.endsWith('.proto'))
  .map(name => relative(root, join(protoDir, name)))
  .sort()
if (protos.length === 0) throw new Error('no .proto files under proto/')

mkdirSync(outDir, { recursive: true })
const scratch = mkdtempSync(join(outDir, '.gen-'))
try {
  const js = join(scratch, 'galaxy.js')
  execFileSync(bin('pbjs'), ['-t', 'static-module', '-w', 'es6', '--no-verify', '--no-delimited', '--no-typeurl',
    '--force-number', '-o', js, ...protos], { cwd: root, stdio: 'inherit' })
  execFileSync(bin('pbts'), ['--no-comments', '-o', join(scratch, 'galaxy.d.ts'), js], { cwd: root, stdio: 'inherit' })
  for (const name of ['galaxy.js', 'galaxy.d.ts']) {
    if (read(join(scratch, name)) !== read(join(outDir, name))) renameSync(join(scratch, name), join(outDir, name))
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}

function read (path) {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}
