import { Command, Option } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { readSnapshotFile } from '../../node/api/snapshot-file.js'
import { ApiCommand } from '../api-command.js'
import { nonEmpty } from '../flags.js'
import { formatBytes, writeJson } from '../output.js'

/** `galaxy operator snapshot restore FILE`: replaces the store with a saved snapshot. */
export class OperatorSnapshotRestoreCommand extends ApiCommand {
  static override paths = [['operator', 'snapshot', 'restore']]

  static override usage = Command.Usage({
    description: "Replace the cluster's store with a saved snapshot",
    details: 'Every key, lease and lock is replaced by those in FILE (from `galaxy operator snapshot save`).',
    examples: [['Restore a backup', 'galaxy operator snapshot restore backup.snap']]
  })

  file = Option.String({ name: 'file' })

  protected async run (): Promise<undefined> {
    const file = nonEmpty('FILE', this.file)
    const bytes = await readSnapshotFile(file)
    const body = await new ApiClient(this.apiTarget()).snapshotRestore(bytes)
    if (this.json) writeJson(this.context.stdout, body)
    else this.context.stdout.write(`restored ${file} (${formatBytes(bytes.byteLength)}); the store is at revision ${body.revision}\n`)
    return undefined
  }
}
