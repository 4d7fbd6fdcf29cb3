import { formatDuration } from '../lib/duration.js'
import type { MemberBody } from '../node/api/wire.js'

/** The columns of a Raft member, shared by `galaxy status` and `galaxy members`. */
export const memberHeaders = ['NAME', 'ID', 'SUFFRAGE', 'ADDRESS', 'LEADER', 'MATCH', 'HEALTH'] as const

/** One row under `memberHeaders`. */
export function memberRow (member: MemberBody): string[] {
  return [member.name, member.id, member.suffrage, member.address, String(member.leader), String(member.match), member.health]
}

/** How long ago, to the second: `3s ago`, `2m5s ago`. */
export function formatAgo (ms: number): string {
  return `${formatDuration(Math.floor(Math.max(0, ms) / 1000) * 1000)} ago`
}

/** A value is shown as text when it is UTF-8; this many characters of it, then `…`. */
export const valueDisplayChars = 60

/**
 * A stored value as one table cell or line: its text when it is UTF-8 (control characters
 * escaped as in JSON, cut at `maxChars`), else `<N bytes>`.
 */
export function displayValue (bytes: Uint8Array, maxChars = valueDisplayChars): string {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return `<${bytes.byteLength} bytes>`
  }
  if (/[\u0000-\u001f\u007f]/.test(text)) text = JSON.stringify(text).slice(1, -1)
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text
}
