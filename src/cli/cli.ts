import { Cli, type BaseContext } from 'clipanion'
import { buildInfo } from './build-info.js'
import { DoctorCommand } from './commands/doctor.js'
import { HelpCommand } from './commands/help.js'
import { JobContinueCommand } from './commands/job-continue.js'
import { JobHistoryCommand } from './commands/job-history.js'
import { JobInitCommand } from './commands/job-init.js'
import { JobListCommand } from './commands/job-list.js'
import { JobCancelCommand, JobPauseCommand, JobRemoveCommand, JobRollbackCommand, JobStopCommand } from './commands/job-operations.js'
import { JobRunCommand } from './commands/job-run.js'
import { JobScaleCommand } from './commands/job-scale.js'
import { JobStatusCommand } from './commands/job-status.js'
import { JobUpdateCommand } from './commands/job-update.js'
import { KvDelCommand } from './commands/kv-del.js'
import { KvGetCommand } from './commands/kv-get.js'
import { KvListCommand } from './commands/kv-list.js'
import { KvPutCommand } from './commands/kv-put.js'
import { KvWatchCommand } from './commands/kv-watch.js'
import { LockAcquireCommand } from './commands/lock-acquire.js'
import { LockReleaseCommand } from './commands/lock-release.js'
import { MembersCommand } from './commands/members.js'
import { NamingResolveCommand } from './commands/naming-resolve.js'
import { NodeListCommand } from './commands/node-list.js'
import { OperatorRaftListPeersCommand } from './commands/operator-raft-list-peers.js'
import { OperatorRaftRemovePeerCommand } from './commands/operator-raft-remove-peer.js'
import { OperatorRaftTransferLeaderCommand } from './commands/operator-raft-transfer-leader.js'
import { OperatorSnapshotRestoreCommand } from './commands/operator-snapshot-restore.js'
import { OperatorSnapshotSaveCommand } from './commands/operator-snapshot-save.js'
import { PodLogsCommand } from './commands/pod-logs.js'
import { PodRestartCommand } from './commands/pod-restart.js'
import { StatusCommand } from './commands/status.js'
import { UpCommand } from './commands/up.js'
import { VersionCommand } from './commands/version.js'
import { writeError } from './report-error.js'

/** Every command `galaxy` has but `appworker`, which `main.ts` runs without the command line (appworker-command.ts). */
export const commands = [
  HelpCommand, VersionCommand, DoctorCommand, UpCommand,
  StatusCommand, MembersCommand, NodeListCommand,
  KvGetCommand, KvPutCommand, KvDelCommand, KvListCommand, KvWatchCommand,
  LockAcquireCommand, LockReleaseCommand,
  JobInitCommand, JobRunCommand, JobListCommand, JobStatusCommand, JobUpdateCommand, JobHistoryCommand,
  JobPauseCommand, JobContinueCommand, JobRollbackCommand, JobCancelCommand, JobScaleCommand, JobStopCommand, JobRemoveCommand,
  PodLogsCommand, PodRestartCommand, NamingResolveCommand,
  OperatorRaftListPeersCommand, OperatorRaftRemovePeerCommand, OperatorRaftTransferLeaderCommand,
  OperatorSnapshotSaveCommand, OperatorSnapshotRestoreCommand
] as const

/** The galaxy command line with all its commands registered; `colors` styles the help text. */
export function createCli (options: { colors: boolean }): Cli {
  const cli = new Cli({ binaryLabel: 'galaxy', binaryName: 'galaxy', binaryVersion: buildInfo().version, enableColors: options.colors })
  for (const command of commands) cli.register(command)
  return cli
}

/**
 * Runs one command line and returns its exit status. Parse errors get the same one-line report
 * (exit 2) as every other failure, instead of clipanion's multi-line text on standard output.
 * Help is coloured only on a terminal, and never with `NO_COLOR` set.
 */
export async function runCli (argv: readonly string[], context: Partial<BaseContext> = {}, cli?: Cli): Promise<number> {
  const fullContext = { ...Cli.defaultContext, ...context }
  const colors = (fullContext.stdout as { isTTY?: boolean }).isTTY === true && (fullContext.env.NO_COLOR ?? '') === ''
  const commandLine = cli ?? createCli({ colors })
  // `galaxy` alone asks what there is, like `galaxy --help`.
  const args = argv.length === 0 ? ['--help'] : [...argv]
  let command
  try {
    command = commandLine.process(args, fullContext)
  } catch (error) {
    return writeError(fullContext.stderr, error, argv.includes('--json'))
  }
  return await commandLine.run(command, { ...fullContext, colorDepth: colors ? fullContext.colorDepth : 1 })
}
