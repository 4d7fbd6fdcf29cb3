import { Command } from 'clipanion'

/** `galaxy --help`, `galaxy -h`: the list of commands. */
export class HelpCommand extends Command {
  static override paths = [['--help'], ['-h'], ['help']]

  async execute (): Promise<number> {
    this.context.stdout.write(this.cli.usage())
    return 0
  }
}
