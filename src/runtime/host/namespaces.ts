import { execFile } from 'node:child_process'
import { describeError } from '../../lib/errors.js'

/** The namespaces a container may ask for. */
export const namespaceKinds = ['pid', 'mount', 'uts', 'ipc'] as const
export type NamespaceKind = typeof namespaceKinds[number]

/** Whether a process could be started in a new namespace of one kind. */
export interface NamespaceProbe {
  readonly kind: NamespaceKind
  readonly ok: boolean
  readonly error: string
}

/** How long one `unshare` probe may take before it counts as failed. */
const probeTimeoutMs = 5_000

/**
 * Starts `true` in a new namespace of each kind with util-linux `unshare`, the same tool the
 * runtime uses to start containers, so a pass here means containers can have that namespace.
 */
export async function probeNamespaces (): Promise<NamespaceProbe[]> {
  return await Promise.all(namespaceKinds.map(async kind => {
    const flags = kind === 'pid' ? ['--pid', '--fork'] : [`--${kind}`]
    const error = await run('unshare', [...flags, '--', 'true'])
    return { kind, ok: error === '', error }
  }))
}

async function run (command: string, args: string[]): Promise<string> {
  return await new Promise(resolve => {
    execFile(command, args, { timeout: probeTimeoutMs }, (error, _stdout, stderr) => {
      if (error === null) resolve('')
      else if ((error as NodeJS.ErrnoException).code === 'ENOENT') resolve(`${command} not found (install util-linux)`)
      else resolve(stderr.trim().split('\n')[0] || describeError(error))
    })
  })
}
