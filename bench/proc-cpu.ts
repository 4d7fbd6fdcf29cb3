import { readFileSync } from 'node:fs'

/** CPU time a process has used, in ms (utime + stime of /proc/<pid>/stat), or undefined when it is gone. */
export function cpuTimeMs (pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    // Fields 14 and 15 of proc(5), counted here from field 3 (the state); 100 ticks a second.
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}
