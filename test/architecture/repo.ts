import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository's root directory. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

interface ForbiddenRule {
  readonly name: string
  readonly from: { readonly path?: string }
}

/** The import rules of `.dependency-cruiser.cjs`, the one place the folder boundaries are written. */
export const boundaryRules = createRequire(import.meta.url)(join(repoRoot, '.dependency-cruiser.cjs')) as { forbidden: ForbiddenRule[] }

/** The pattern (relative to the repository root) of files that are pure cores. */
export const pureCorePattern = new RegExp(boundaryRules.forbidden.find(rule => rule.name === 'pure-cores-no-node-builtins')?.from.path ?? '^$')
