import { Command, Option } from 'clipanion'
import { writeError } from './report-error.js'

/**
 * The base of every galaxy command: `--json` for machine output, and failures reported the galaxy
 * way (`writeError`) with exit status 1, or 2 for bad input. Subclasses implement `run`.
 */
export abstract class GalaxyCommand extends Command {
  json = Option.Boolean('--json', false, { description: 'Print machine-readable JSON instead of a table' })

  /** Does the command's work; returns an exit status, or nothing for success. */
  protected abstract run (): Promise<number | undefined>

  async execute (): Promise<number> {
    try {
      return (await this.run()) ?? 0
    } catch (error) {
      return writeError(this.context.stderr, error, this.json)
    }
  }
}
