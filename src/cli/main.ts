import { runCli } from './cli.js'

// The galaxy executable's entry point: run the command line, then let Node exit with its status
// once pending output is flushed.
void runCli(process.argv.slice(2)).then(exitCode => { process.exitCode = exitCode })
