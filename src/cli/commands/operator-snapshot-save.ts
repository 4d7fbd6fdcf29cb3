import { Command, Option } from 'clipanion'
import { ApiClient } from '../../node/api/client.js'
import { checkSnapshotTarget, FileExistsError, writeSnapshotFile } from '../../node/api/snapshot-file.js'
import { GalaxyError } from '../../lib/errors.js'
import { ApiCommand } from '../api-command.js'
import { nonEmpty } from '../flags.js'
import { formatBytes, writeJson } from '../output.js'

/** `galaxy operator snapshot save FILE`: a backup of the store. */
export class OperatorSnapshotSaveCommand extends ApiCommand {
  static override paths = [['operator', 'snapshot', 'save']]

  static override usage = Command.Usage({
    description: "Save a snapshot of the cluster's store to a file",
    details: `
      Writes a point-in-time copy of the store (keys, leases, locks) to FILE for
      \`galaxy operator snapshot restore\`. FILE is written whole or not at all (a temporary file
      beside it takes its name once complete), and an existing FILE is left alone unless --force.
    `,
    examples: [['Back up the store', 'galaxy operator snapshot save backup.snap'], ['Replace last night\'s backup', 'galaxy operator snapshot save nightly.snap --force']]
  })

  file = Option.String({ name: 'file' })
  force = Option.Boolean('--force', false, { description: 'Overwrite FILE if it exists' })

  protected async run (): Promise<undefined> {
    const file = nonEmpty('FILE', this.file)
    const options = { overwrite: this.force }
    try {
      await checkSnapshotTarget(file, options)
      const bytes = await new ApiClient(this.apiTarget()).snapshotSave()
      await writeSnapshotFile(file, bytes, options)
      if (this.json) writeJson(this.context.stdout, { file, bytes: bytes.byteLength })
      else this.context.stdout.write(`saved snapshot to ${file} (${formatBytes(bytes.byteLength)})\n`)
    } catch (error) {
      if (error instanceof FileExistsError) throw new GalaxyError(error.code, `${error.message}; use --force to overwrite it`)
      throw error
    }
    return undefined
  }
}
