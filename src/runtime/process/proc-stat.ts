import { readFile } from 'node:fs/promises'
import { assert } from '../../lib/assert.js'

/** A process's identity across pid reuse: its pid and its start time in clock ticks since boot (field 22 of /proc/<pid>/stat). */
export interface ProcessIdentity { readonly pid: number, readonly startTicks: number }

/** The fields of /proc/<pid>/stat that galaxy reads. */
export interface ProcStat {
  /** One letter: R running, S sleeping, D disk wait, Z zombie, T stopped, X dead, … */
  readonly state: string
  readonly ppid: number
  readonly pgid: number
  /** Start time in clock ticks since boot (field 22): with the pid, what tells a process from a later one that reuses its pid. */
  readonly startTicks: number
}

// Fields counted from 1 as in proc(5); the ones after comm are indexed from the state (field 3).
const stateField = 3
const ppidField = 4
const pgidField = 5
const startTicksField = 22

/**
 * Parses the text of /proc/<pid>/stat, or answers undefined when it is not one. The comm field
 * (field 2) is in parentheses and may itself hold spaces and parentheses (a program named
 * `a) (b`), so the fields after it start at the LAST `)`; comm is at most 15 bytes, and nothing
 * after it can hold a `)`.
 */
export function parseProcStat (text: string): ProcStat | undefined {
  const open = text.indexOf(' (')
  const close = text.lastIndexOf(')')
  if (open < 1 || close < open || !/^\d+$/.test(text.slice(0, open))) return undefined
  const rest = text.slice(close + 1).trim().split(' ')
  const field = (n: number): string | undefined => rest[n - stateField]
  const state = field(stateField)
  const ppid = integerOf(field(ppidField))
  const pgid = integerOf(field(pgidField))
  const startTicks = integerOf(field(startTicksField))
  if (state === undefined || !/^[A-Za-z]$/.test(state) || ppid === undefined || pgid === undefined || startTicks === undefined) return undefined
  return { state, ppid, pgid, startTicks }
}

/**
 * The identity of a running pid, or undefined when there is no such process (or it is a zombie:
 * it has exited and only waits for its parent to reap it). `pid` must be a positive integer.
 */
export async function processIdentity (pid: number): Promise<ProcessIdentity | undefined> {
  assert(Number.isSafeInteger(pid) && pid > 0, 'a pid is a positive integer', { pid })
  let text: string
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8')
  } catch (error) {
    // ESRCH: the process went away between the open and the read.
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ESRCH') return undefined
    throw error
  }
  return identityFromStat(pid, text)
}

/** The identity in `text`, the /proc/<pid>/stat of `pid`; undefined for a zombie (see `processIdentity`). */
export function identityFromStat (pid: number, text: string): ProcessIdentity | undefined {
  const stat = parseProcStat(text)
  assert(stat !== undefined, 'the kernel wrote a /proc/<pid>/stat galaxy cannot parse', { pid, text: text.slice(0, maxQuotedStatChars) })
  if (stat.state === 'Z' || stat.state === 'X') return undefined
  return { pid, startTicks: stat.startTicks }
}

/**
 * Whether the process that had `identity` still runs: the same pid AND the same start time, so
 * that a later process that reuses the pid is not taken for it. A zombie counts as gone.
 */
export async function isSameProcess (identity: ProcessIdentity): Promise<boolean> {
  const current = await processIdentity(identity.pid)
  return current !== undefined && current.startTicks === identity.startTicks
}

/** How much of an unparsable stat line an assertion quotes. */
const maxQuotedStatChars = 200

function integerOf (text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d+$/.test(text)) return undefined
  const value = Number(text)
  return Number.isSafeInteger(value) ? value : undefined
}
