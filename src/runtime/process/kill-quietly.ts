/** Sends `signal` (SIGKILL unless told) to `pid` (a process group when negative); a process that is gone already is not an error. */
export function killQuietly (pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal)
  } catch {
    // Gone already.
  }
}
