import packageJson from '../../package.json' with { type: 'json' }

/** Set by the bundler (`scripts/build.mjs`) to the git commit the executable was built from. */
declare const GALAXY_BUILD_COMMIT: string | undefined

/** What this galaxy is: its release, the commit it was built from, and how it runs. */
export interface BuildInfo {
  readonly version: string
  /** A short git commit hash, with `-dirty` when the tree had uncommitted changes; `unknown` from source. */
  readonly commit: string
  readonly node: string
  readonly platform: string
  readonly arch: string
}

/** This process's build information. */
export function buildInfo (): BuildInfo {
  return {
    version: packageJson.version,
    commit: typeof GALAXY_BUILD_COMMIT === 'string' ? GALAXY_BUILD_COMMIT : 'unknown',
    node: process.version,
    platform: process.platform,
    arch: process.arch
  }
}
