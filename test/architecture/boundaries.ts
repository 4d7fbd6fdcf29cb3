import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from './repo.js'

/** One import that breaks a rule of `.dependency-cruiser.cjs`. */
export interface BoundaryViolation {
  readonly rule: string
  readonly from: string
  readonly to: string
}

/** Runs dependency-cruiser with the repository's rules on `dir/src` (dir holds a tsconfig.json). */
export async function findBoundaryViolations (dir: string): Promise<BoundaryViolation[]> {
  const cli = join(repoRoot, 'node_modules', '.bin', 'depcruise')
  const args = ['src', '--config', join(repoRoot, '.dependency-cruiser.cjs'), '--output-type', 'json']
  // depcruise exits non-zero when it finds violations; its JSON report is on stdout either way.
  const stdout = await promisify(execFile)(cli, args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 })
    .then(result => result.stdout, (error: { stdout?: string }) => {
      if (error.stdout === undefined || error.stdout === '') throw error
      return error.stdout
    })
  const report = JSON.parse(stdout) as { summary: { violations: Array<{ rule: { name: string }, from: string, to: string }> } }
  return report.summary.violations.map(violation => ({ rule: violation.rule.name, from: violation.from, to: violation.to }))
}
