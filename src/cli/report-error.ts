import { describeError, errorCode, UsageError } from '../lib/errors.js'
import type { Output } from './output.js'

/** Exit status for a command that failed. */
export const exitFailure = 1
/** Exit status for input the CLI could not accept: unknown commands and flags, bad values. */
export const exitUsage = 2

interface ClipanionError {
  readonly clipanion: { readonly type: string }
  readonly name: string
  readonly message: string
  readonly input?: readonly string[]
  readonly candidates?: ReadonlyArray<{ readonly usage: string, readonly reason: string | null }>
}

function isClipanionError (error: unknown): error is ClipanionError {
  return typeof error === 'object' && error !== null && 'clipanion' in error
}

/** What the user sees of a failure: the stable code, one line of text, and the exit status. */
export interface ErrorReport {
  readonly code: string
  readonly message: string
  readonly exitCode: number
}

/** Classifies any thrown value; command-line mistakes (ours or clipanion's) exit with 2. */
export function toErrorReport (error: unknown): ErrorReport {
  if (isClipanionError(error)) {
    return { code: UsageError.code, message: describeClipanionError(error), exitCode: exitUsage }
  }
  const code = errorCode(error)
  const message = selfExplainingCodes.has(code) && error instanceof Error ? firstLine(error.message) : describeError(error)
  return { code, message, exitCode: code === UsageError.code ? exitUsage : exitFailure }
}

/**
 * Codes whose message already says what failed in words (`cannot reach galaxy node at
 * 127.0.0.1:1646: connection refused (is "galaxy up" running?)`): their causes, fetch's
 * `fetch failed: connect ECONNREFUSED …`, would only repeat it in jargon, so they are left out.
 */
const selfExplainingCodes: ReadonlySet<string> = new Set(['ERR_UNREACHABLE', 'ERR_CONNECTION_LOST'])

/**
 * Writes a failure the galaxy way: `galaxy: <message>` on one line, or with `json` a single JSON
 * object `{"error":{"code","message"}}`; both on standard error. Returns the exit status.
 */
export function writeError (stderr: Output, error: unknown, json: boolean): number {
  const report = toErrorReport(error)
  if (json) stderr.write(`${JSON.stringify({ error: { code: report.code, message: report.message } })}\n`)
  else stderr.write(`galaxy: ${report.message}\n`)
  return report.exitCode
}

function describeClipanionError (error: ClipanionError): string {
  if (error.name !== 'UnknownSyntaxError' || error.input === undefined || error.candidates === undefined) {
    return firstLine(error.message)
  }
  // clipanion ends its input with an invisible end-of-input marker.
  const typed = error.input.filter(token => token !== '\u0000').join(' ')
  const candidates = error.candidates
  const firstReason = candidates[0]?.reason
  if (firstReason !== null && firstReason !== undefined && candidates.every(candidate => candidate.reason === firstReason)) {
    return `${lowerFirst(firstReason.replace(/\.$/, ''))} (see ${commandPath(candidates[0]?.usage ?? 'galaxy')} --help)`
  }
  const words = typed.split(' ').filter(word => word !== '' && !word.startsWith('-'))
  const paths = [...new Set(candidates.map(candidate => commandPath(candidate.usage)))].filter(path => path !== 'galaxy')
  // clipanion offers every command that could have matched; with many commands that is noise,
  // so only the paths close to what was typed are suggested.
  const suggestions = paths.filter(path => isCloseTo(words, path.split(' ').slice(1)))
  if (suggestions.length === 0) return `unknown command "${typed}" (see galaxy --help)`
  return `unknown command "${typed}"; did you mean ${suggestions.join(' or ')}? (see galaxy --help)`
}

/**
 * Whether a command path is worth suggesting for the words typed: they begin it (`kv` →
 * `kv get`), or the first as many words as it has are a typo of it (`kv gte` → `kv get`,
 * `stauts` → `status`): an edit distance of at most 2, and less than half its length.
 */
function isCloseTo (typed: readonly string[], path: readonly string[]): boolean {
  if (typed.length < path.length && typed.every((word, index) => word === path[index])) return true
  const attempt = typed.slice(0, path.length).join(' ')
  const target = path.join(' ')
  if (Math.abs(attempt.length - target.length) > maxSuggestionDistance) return false
  const distance = editDistance(attempt, target)
  return distance <= maxSuggestionDistance && distance * 2 < target.length
}

/** The most single-character edits between a typed command and one suggested for it. */
const maxSuggestionDistance = 2

/** Levenshtein distance, with a transposition of neighbours counting as one edit. */
function editDistance (a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0))
  const at = (i: number, j: number): number => rows[i]?.[j] ?? 0
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1)
      const row = rows[i]
      if (row !== undefined) row[j] = best
    }
  }
  return at(a.length, b.length)
}

/** `galaxy doctor [--json] [--data #0]` → `galaxy doctor`. */
function commandPath (usage: string): string {
  const words = usage.split(' ')
  const end = words.findIndex(word => /^[[<#-]/.test(word))
  return (end === -1 ? words : words.slice(0, end)).join(' ')
}

function firstLine (text: string): string {
  return text.split('\n').map(line => line.trim()).find(line => line !== '') ?? 'invalid command line'
}

function lowerFirst (text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1)
}
