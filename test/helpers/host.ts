import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import type { ExecutionContext } from 'ava'

/** Whether this test process may mount, make cgroups and create namespaces. */
export const isRoot = process.getuid?.() === 0

/**
 * For tests that need root: true when running as root; otherwise logs why the test checks nothing
 * more, so the run shows what it did not cover.
 */
export function hasRoot (t: ExecutionContext, needsRootFor: string): boolean {
  if (isRoot) return true
  t.log(`not root: cannot ${needsRootFor}`)
  t.pass()
  return false
}

/** Runs `mount ARGS... target` (creating `target`) and unmounts it when the test ends. */
export function mountForTest (t: ExecutionContext, args: readonly string[], target: string): void {
  mkdirSync(target, { recursive: true })
  const mount = spawnSync('mount', [...args, target])
  if (mount.status !== 0) throw new Error(`mount ${args.join(' ')} ${target}: ${mount.stderr.toString().trim()}`)
  t.teardown(() => { spawnSync('umount', [target]) })
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}
