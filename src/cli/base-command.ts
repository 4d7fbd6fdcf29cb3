import { Command, Option } from 'clipanion'
import { AssertionError } from '../lib/assert.js'
import { writeError } from './report-error.js'

/**
 * The base of every galaxy command: `--json` for machine output, and failures reported the galaxy
 * way (`writeError`) with exit status 1, or 2 for bad input. Subclasses implement `run`. A broken
 * invariant (`AssertionError`) is not caught: it crashes the process with its stack.
 */
export abstract class GalaxyCommand extends Command {
  json = Option.Boolean('--json', false, { description: 'Print machine-readable JSON instead of a table' })

  /** Does the command's work; returns an exit status, or nothing for success. */
  protected abstract run (): Promise<number | undefined>

  async execute (): Promise<number> {
    try {
      return (await this.run()) ?? 0
    } catch (error) {
      // A broken invariant is a bug: crash with its stack rather than report it as a failure.
      if (error instanceof AssertionError) throw error
      return writeError(this.context.stderr, error, this.json)
    }
  }
}
