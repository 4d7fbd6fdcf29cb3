// Generates static protobufjs code (ESM) and its type declarations from proto/**/*.proto into
// src/proto/gen/: one module per .proto file (proto/galaxy/appworker.proto → appworker.js and
// appworker.d.ts), each exporting the namespace `galaxy` with the messages of that file and of the
// files it imports (paths from proto/), under a protobufjs root of its own, so that a process loads
// only the messages it uses (an AppWorker, in every container, needs appworker.proto alone; all
// of them are 0.4 MB bundled). A message of an imported file is generated again in the importing
// file's module: the two classes are distinct, but their `$Properties` interfaces match. The output is never edited by hand and never committed; build,
// test and `npm ci` (through `prepare`) regenerate it. Files are replaced atomically and only when
// they change, so a build running beside the tests never shows them a half-written module; modules
// of .proto files that are gone are removed.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { basename, dirname, join, relative } from 'node:path'
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

const modules = new Map(protos.map(proto => [basename(proto, '.proto'), proto]))
if (modules.size !== protos.length) throw new Error(`two .proto files have the same name: ${protos.join(', ')}`)

mkdirSync(outDir, { recursive: true })
const scratch = mkdtempSync(join(outDir, '.gen-'))
try {
  for (const [name, proto] of modules) {
    const js = join(scratch, `${name}.js`)
    execFileSync(bin('pbjs'), ['-t', 'static-module', '-w', 'es6', '--root', name, '--path', protoDir, '--no-verify', '--no-delimited', '--no-typeurl',
      '--force-number', '-o', js, proto], { cwd: root, stdio: 'inherit' })
    execFileSync(bin('pbts'), ['--no-comments', '-o', join(scratch, `${name}.d.ts`), js], { cwd: root, stdio: 'inherit' })
    for (const file of [`${name}.js`, `${name}.d.ts`]) {
      if (read(join(scratch, file)) !== read(join(outDir, file))) renameSync(join(scratch, file), join(outDir, file))
    }
  }
  for (const file of readdirSync(outDir)) {
    const name = file.replace(/\.(js|d\.ts)$/, '')
    if (name !== file && !modules.has(name)) rmSync(join(outDir, file))
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
