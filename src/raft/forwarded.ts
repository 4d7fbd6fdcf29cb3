import { entrySizeBytes, type EntryPayload, type Message } from './types.js'

/**
 * A request a follower passes on to its leader: a proposal or a read. It carries no term and
 * promises nothing about the sender's log or vote — the client could have sent it to the leader
 * itself — so it may leave before the sender's own durable write, and may be lost or reordered
 * like any message (the sender proposes again after a leader change or a timeout).
 */
export function isForwarded (message: Message): message is Extract<Message, { type: 'propose' | 'readIndex' }> {
  return message.type === 'propose' || message.type === 'readIndex'
}

/**
 * Joins consecutive proposals to the same leader into one message of at most `maxBytes` of
 * entries (a proposal larger than that travels alone), so that the requests a follower took
 * between two sends cost the leader one message, not one each. Only ordinary entries are joined:
 * the leader accepts or refuses a proposal as a whole, and it refuses two membership changes at
 * once, so a change travels alone. Reads and the order of everything else are kept.
 */
export function mergeForwarded (messages: readonly Message[], maxBytes: number): Message[] {
  const out: Message[] = []
  // The proposal being joined into: a copy whose entries array this function owns.
  let open: { readonly to: Message['to'], readonly entries: EntryPayload[], bytes: number } | undefined
  for (const message of messages) {
    if (message.type !== 'propose' || !message.entries.every(entry => entry.type === 'normal')) {
      open = undefined
      out.push(message)
      continue
    }
    const bytes = message.entries.reduce((sum, entry) => sum + entrySizeBytes(entry), 0)
    if (open !== undefined && open.to === message.to && open.bytes + bytes <= maxBytes) {
      open.entries.push(...message.entries)
      open.bytes += bytes
      continue
    }
    open = { to: message.to, entries: [...message.entries], bytes }
    out.push({ ...message, entries: open.entries })
  }
  return out
}
