import { isSea } from 'node:sea'

/** How to run this same galaxy again (for the AppWorkers a node starts). */
export interface GalaxyCommand {
  readonly argv: readonly string[]
  /**
   * Where it must start: Node resolves flags like `--import tsx` against the working directory,
   * so a galaxy run from source starts in this process's; the single executable needs none.
   */
  readonly cwd: string | undefined
}

/** The executable alone when it is the single executable, else Node with its flags and the script. */
export function galaxyCommand (): GalaxyCommand {
  if (isSea()) return { argv: [process.execPath], cwd: undefined }
  const script = process.argv[1]
  if (script === undefined) throw new Error('cannot tell how this galaxy was started: no script in argv')
  return { argv: [process.execPath, ...process.execArgv, script], cwd: process.cwd() }
}
