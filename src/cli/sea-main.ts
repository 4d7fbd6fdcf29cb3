import { giveMemoryBackWhenIdle } from '../node/idle-memory.js'
import { runCliAsset } from './cli-asset.js'

// The single executable's main script, built alone (scripts/build.mjs): `galaxy appworker`, the
// first process of every container, runs from it with only the AppWorker's code (0.4 MB) compiled
// and held in memory; every other command runs the whole command line, an asset of the executable
// (cli-asset.ts), which dispatches as main.ts does. The AppWorker's code is reached through a
// dynamic import, so the bundle evaluates it only in an AppWorker.
const argv = process.argv.slice(2)
if (argv[0] === 'appworker') {
  // (The command line's own entry, main.ts, starts it for every other command.)
  giveMemoryBackWhenIdle()
  void import('./appworker-command.js')
    .then(async ({ runAppWorkerCommand }) => await runAppWorkerCommand(argv.slice(1), process.env, process.stderr))
    .then(code => { process.exitCode = code })
} else {
  runCliAsset()
}
