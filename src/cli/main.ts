// The galaxy executable's entry point: run the command line, then let Node exit with its status
// once pending output is flushed. `galaxy appworker`, the first process of every container, has a
// path of its own that loads only the AppWorker's code. Both paths are dynamic imports, which the
// bundle (esbuild, CommonJS) turns into modules evaluated on first import, so neither evaluates the
// other's modules: an AppWorker never runs clipanion, the commands, libp2p, raft or the store.
import { giveMemoryBackWhenIdle } from '../node/idle-memory.js'

// Whatever the command, the process gives its memory back when it goes quiet (idle-memory.ts).
giveMemoryBackWhenIdle()
const argv = process.argv.slice(2)
if (argv[0] !== 'appworker') {
  // A reader that went away (`galaxy job list | head -1`) ends the command quietly, as it ends
  // other Unix tools, instead of with a stack trace.
  process.stdout.on('error', error => {
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0)
    throw error
  })
}
const exitCode = argv[0] === 'appworker'
  ? import('./appworker-command.js').then(async ({ runAppWorkerCommand }) => await runAppWorkerCommand(argv.slice(1), process.env, process.stderr))
  : import('./cli.js').then(async ({ runCli }) => await runCli(argv))
void exitCode.then(code => { process.exitCode = code })
