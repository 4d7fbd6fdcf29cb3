import { parseArgs } from 'node:util'
import { AssertionError } from '../lib/assert.js'
import { UsageError } from '../lib/errors.js'
import { parseJobId, parsePodId } from '../lib/ids.js'
import { runAppWorker } from '../node/appworker/run-appworker.js'
import type { Output } from './output.js'
import { writeError } from './report-error.js'

/**
 * `galaxy appworker --dir DIR [--job JOB] [--pod POD] [--json]`: the root process of a container,
 * started by its node's agent (never by hand, so it has no usage text and is not in the help). The
 * job and pod it serves come from `--job`/`--pod` or `GALAXY_JOB_ID`/`GALAXY_POD_ID` in `env`.
 * Returns the exit status: failures are reported as every command reports them (`writeError`,
 * exit 2 for bad flags, 1 otherwise), and a broken invariant is thrown.
 *
 * One runs in every container, so it is not a clipanion command: `main.ts` reaches it without
 * loading the command line (clipanion, every other command and what they import, libp2p among
 * them), and its flags are read with `node:util`'s parser.
 */
export async function runAppWorkerCommand (args: readonly string[], env: NodeJS.ProcessEnv, stderr: Output): Promise<number> {
  const json = args.includes('--json')
  try {
    return await runAppWorker(parseAppWorkerFlags(args, env))
  } catch (error) {
    if (error instanceof AssertionError) throw error
    return writeError(stderr, error, json)
  }
}

function parseAppWorkerFlags (args: readonly string[], env: NodeJS.ProcessEnv): Parameters<typeof runAppWorker>[0] {
  let values
  try {
    values = parseArgs({
      args: [...args],
      options: { dir: { type: 'string' }, job: { type: 'string' }, pod: { type: 'string' }, json: { type: 'boolean' } },
      strict: true,
      allowPositionals: false
    }).values
  } catch (error) {
    throw new UsageError(`appworker: ${(error as Error).message}`, { cause: error })
  }
  const dir = values.dir ?? ''
  if (dir === '') throw new UsageError('--dir: the container directory is required')
  if (!dir.startsWith('/')) throw new UsageError(`--dir: "${dir}" must be an absolute path`)
  const job = parseJobId(values.job ?? env.GALAXY_JOB_ID ?? '')
  if (!job.ok) throw new UsageError(`--job: ${job.error}`)
  const pod = parsePodId(values.pod ?? env.GALAXY_POD_ID ?? '')
  if (!pod.ok) throw new UsageError(`--pod: ${pod.error}`)
  return { dir, jobId: job.value, podId: pod.value }
}
