import { getAsset, getRawAsset } from 'node:sea'
import { constants, Script } from 'node:vm'

/**
 * The single executable's assets of the command line (scripts/build.mjs writes them): the bundle of
 * it (as `dist/galaxy.cjs`, from main.ts, but taking classic-level's addon from an asset of the
 * build's) wrapped as the function Node makes of a CommonJS module,
 * `(exports, require, module, __filename, __dirname)`, and its V8 code cache.
 */
export const cliAssetKeys = { source: 'galaxy-cli.js', codeCache: 'galaxy-cli.cache' } as const

/**
 * Runs the whole command line from the single executable's asset: compiles it with the code cache
 * made for it at build time by the same Node binary, and calls it as Node calls a CommonJS module,
 * with the executable's own `require` (built-in modules only: everything else is in the bundle).
 * V8 refuses a cache made by another Node or under other V8 flags (NODE_OPTIONS); the command line
 * then compiles from source, slower but otherwise the same, with a warning as Node gives for its
 * main script.
 *
 * It is an asset and not the executable's main script so that an AppWorker, one in every container,
 * never holds its source (3.4 MB, kept whole in the V8 heap) nor its code cache (see sea-main.ts).
 */
export function runCliAsset (): void {
  const script = new Script(getAsset(cliAssetKeys.source, 'utf8'), {
    filename: 'galaxy.cjs',
    cachedData: new Uint8Array(getRawAsset(cliAssetKeys.codeCache) as ArrayBuffer),
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
  })
  if (script.cachedDataRejected === true) process.emitWarning('galaxy: the command line\'s code cache was rejected (other V8 flags?); compiling it from source')
  const run = script.runInThisContext() as (...args: unknown[]) => void
  const cliModule = { exports: {}, filename: __filename, id: '.', loaded: false }
  run.call(cliModule.exports, cliModule.exports, require, cliModule, __filename, __dirname)
}
