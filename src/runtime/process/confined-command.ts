import type { NamespaceKind } from '../host/namespaces.js'

/** How a command is confined before it runs. */
export interface Confinement {
  /** `cgroup.procs` files the process joins before it execs (one per hierarchy). */
  readonly procsFiles: readonly string[]
  /** New namespaces, made with util-linux `unshare`; `pid` also mounts a fresh /proc (needs `mount`). */
  readonly namespaces: readonly NamespaceKind[]
  /** Without cgroups: an address-space limit through `ulimit -v`, the only memory bound a plain process has. */
  readonly addressSpaceBytes?: number
}

/** The exit status of a confined command that could not be confined: it never ran. */
export const confinementFailedExitCode = 125

/** The variable the wrapper reads its cgroup files from (newline-separated, so paths may hold spaces). */
export const joinCgroupsVariable = 'GALAXY_JOIN_CGROUPS'

// A POSIX shell joins the cgroups with its own pid, then execs: the command starts inside them,
// never outside (its first instruction is already accounted and limited).
const wrapperScript = [
  'set -f',
  'IFS=\'',
  '\'',
  `for f in $${joinCgroupsVariable}; do`,
  `  echo $$ > "$f" || { echo "galaxy: cannot join cgroup $f" >&2; exit ${confinementFailedExitCode}; }`,
  'done',
  `unset ${joinCgroupsVariable}`,
  'if [ -n "$GALAXY_ULIMIT_V" ]; then',
  `  ulimit -v "$GALAXY_ULIMIT_V" || { echo "galaxy: cannot limit memory" >&2; exit ${confinementFailedExitCode}; }`,
  'fi',
  'unset GALAXY_ULIMIT_V',
  'set +f',
  'exec "$@"'
].join('\n')

/**
 * The program, arguments and extra environment that run `argv` under `confinement`: `/bin/sh`
 * joins the cgroups and sets limits, then execs (through `unshare` when namespaces are asked
 * for) the command itself.
 */
export function confinedCommand (argv: readonly string[], confinement: Confinement): { file: string, args: string[], env: Record<string, string> } {
  if (argv.length === 0) throw new Error('a confined command needs a program')
  // Both always set, so that nothing the caller's environment holds can stand in for them.
  const env: Record<string, string> = {
    [joinCgroupsVariable]: confinement.procsFiles.join('\n'),
    GALAXY_ULIMIT_V: confinement.addressSpaceBytes === undefined ? '' : String(Math.max(1, Math.floor(confinement.addressSpaceBytes / 1024)))
  }
  return { file: '/bin/sh', args: ['-c', wrapperScript, 'galaxy-confine', ...unshareArgs(confinement.namespaces), ...argv], env }
}

// The init of a pid namespace: the kernel drops every signal to a namespace's pid 1 that has no
// handler for it, and `unshare` ignores TERM and INT while it waits, so a program that does not
// handle SIGTERM itself would never see a graceful stop. This shell runs the command as its child
// and passes the stop signals on, then exits with the command's status.
const pidInitScript = [
  '"$@" &',
  'child=$!',
  'for signal in TERM INT HUP QUIT USR1 USR2; do trap "kill -$signal $child 2>/dev/null" $signal; done',
  'status=0',
  'while kill -0 $child 2>/dev/null; do wait $child; status=$?; done',
  'exit $status'
].join('\n')

/**
 * `unshare` in front of the command, or nothing. In a pid namespace the command runs under a
 * shell that passes signals on (see `pidInitScript`); that init dies with `unshare` (`--kill-child`).
 */
function unshareArgs (namespaces: readonly NamespaceKind[]): string[] {
  if (namespaces.length === 0) return []
  const args = ['unshare']
  if (namespaces.includes('pid')) args.push('--pid', '--fork', '--kill-child', '--mount-proc')
  if (namespaces.includes('mount') && !namespaces.includes('pid')) args.push('--mount')
  if (namespaces.includes('uts')) args.push('--uts')
  if (namespaces.includes('ipc')) args.push('--ipc')
  args.push('--')
  if (namespaces.includes('pid')) args.push('/bin/sh', '-c', pidInitScript, 'galaxy-init')
  return args
}
