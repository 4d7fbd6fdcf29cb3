import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
/**
 * What runs work when a test ends: ava's ExecutionContext, or a bench that cleans up by itself and
 * runs none of it (see bench/bench-cluster.ts).
 */
export interface Teardowns {
  teardown (fn: () => void | Promise<void>): void
}

/** A fresh directory removed when the test ends, passed or failed. */
export function tempDir (t: Teardowns, prefix = 'galaxy-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}
