import { Command } from 'clipanion'
import { GalaxyCommand } from '../base-command.js'
import { buildInfo } from '../build-info.js'
import { writeJson } from '../output.js'

/** `galaxy version`, `galaxy --version`: what this executable is. */
export class VersionCommand extends GalaxyCommand {
  static override paths = [['version'], ['--version'], ['-v']]

  static override usage = Command.Usage({
    description: 'Print the version and the commit galaxy was built from',
    examples: [['Print the version', 'galaxy --version'], ['As JSON', 'galaxy version --json']]
  })

  protected async run (): Promise<undefined> {
    const info = buildInfo()
    if (this.json) writeJson(this.context.stdout, info)
    else this.context.stdout.write(`galaxy ${info.version} (commit ${info.commit}, node ${info.node}, ${info.platform}/${info.arch})\n`)
    return undefined
  }
}
