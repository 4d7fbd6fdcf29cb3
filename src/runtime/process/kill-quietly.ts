/** Sends SIGKILL to `pid`; a process that is gone already is not an error. */
export function killQuietly (pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // Gone already.
  }
}
