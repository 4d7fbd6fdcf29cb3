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
  return { code, message: describeError(error), exitCode: code === UsageError.code ? exitUsage : exitFailure }
}

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
  const suggestions = candidates.map(candidate => commandPath(candidate.usage)).filter(path => path !== 'galaxy')
  if (suggestions.length === 0) return `unknown command "${typed}" (see galaxy --help)`
  return `unknown command "${typed}"; did you mean ${suggestions.join(' or ')}? (see galaxy --help)`
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
