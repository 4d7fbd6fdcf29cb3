// Generates static protobufjs code (ESM) and its type declarations from proto/**/*.proto into
// src/proto/gen/. The output is never edited by hand and never committed; build, test and
// `npm ci` (through `prepare`) regenerate it.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync } from 'node:fs'
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
const js = join(outDir, 'galaxy.js')
execFileSync(bin('pbjs'), ['-t', 'static-module', '-w', 'es6', '--no-verify', '--no-delimited', '--no-typeurl',
  '--force-number', '-o', js, ...protos], { cwd: root, stdio: 'inherit' })
execFileSync(bin('pbts'), ['--no-comments', '-o', join(outDir, 'galaxy.d.ts'), js], { cwd: root, stdio: 'inherit' })
