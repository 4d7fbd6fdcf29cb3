import { PassThrough } from 'node:stream'
import type { Cli } from 'clipanion'
import { runCli } from '../../src/cli/cli.js'

/** What one command line printed and how it exited. */
export interface CliRun {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs a galaxy command line in this process with captured output and the given environment. */
export async function runGalaxy (argv: string[], env: Record<string, string> = {}, cli?: Cli): Promise<CliRun> {
  const capture = (): { stream: PassThrough, text: () => string } => {
    const stream = new PassThrough()
    const chunks: Buffer[] = []
    stream.on('data', (chunk: Buffer) => chunks.push(chunk))
    return { stream, text: () => Buffer.concat(chunks).toString() }
  }
  const stdout = capture()
  const stderr = capture()
  const exitCode = await runCli(argv, { stdout: stdout.stream as never, stderr: stderr.stream as never, env }, cli)
  return { exitCode, stdout: stdout.text(), stderr: stderr.text() }
}
