import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import test, { type ExecutionContext, type SerialFn } from 'ava'

/**
 * Whether this process may mount filesystems: tried, not inferred from uid 0, because root in an
 * unprivileged container may not. The attempt happens in a private mount namespace and leaves nothing.
 */
export const canMount = spawnSync('unshare', ['--mount', 'sh', '-c', 'mount -t tmpfs none /mnt'], { stdio: 'ignore' }).status === 0

/**
 * `test` (or `test.serial`) when `condition` holds, else `test.skip`, with the reason printed so
 * that the run shows what it did not cover.
 */
export function testIf (condition: boolean, reason: string, options: { readonly serial?: boolean } = {}): SerialFn {
  if (condition) return options.serial === true ? test.serial : test
  console.log(`  skipping tests that need ${reason}: not available here`)
  return test.skip as unknown as SerialFn
}

/** Runs `mount ARGS... target` (creating `target`) and unmounts it when the test ends. */
export function mountForTest (t: ExecutionContext, args: readonly string[], target: string): void {
  mkdirSync(target, { recursive: true })
  const mount = spawnSync('mount', [...args, target])
  if (mount.status !== 0) throw new Error(`mount ${args.join(' ')} ${target}: ${mount.stderr.toString().trim()}`)
  t.teardown(() => { spawnSync('umount', [target]) })
}

