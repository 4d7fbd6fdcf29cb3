import { open } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'

/** Bounds of following a log. */
export const logFollowLimits = {
  chunkBytes: 64 * 1024,
  pollMs: 250
} as const

/**
 * The bytes of a task's log file: the last `tailBytes` of it (from the start of a line), then,
 * with `follow`, whatever is appended until `signal` aborts. A file truncated in place (a
 * copytruncate rotation, see `LogFile`) is read again from its start; a file that does not exist
 * yet is waited for when following, and is empty otherwise.
 */
export async function * followLog (path: string, options: { readonly tailBytes: number, readonly follow: boolean, readonly signal: AbortSignal }): AsyncGenerator<Uint8Array, void, undefined> {
  let offset: number | undefined
  let skipToLine = false
  while (!options.signal.aborted) {
    const file = await open(path, 'r').catch(() => undefined)
    if (file !== undefined) {
      try {
        const size = (await file.stat()).size
        if (offset === undefined) {
          offset = Math.max(0, size - options.tailBytes)
          skipToLine = offset > 0
        } else if (size < offset) {
          offset = 0
        }
        while (offset < size && !options.signal.aborted) {
          const buffer = Buffer.alloc(Math.min(logFollowLimits.chunkBytes, size - offset))
          const { bytesRead } = await file.read(buffer, 0, buffer.length, offset)
          if (bytesRead === 0) break
          offset += bytesRead
          let chunk = buffer.subarray(0, bytesRead)
          if (skipToLine) {
            const newline = chunk.indexOf(10)
            if (newline === -1) continue
            chunk = chunk.subarray(newline + 1)
            skipToLine = false
          }
          if (chunk.byteLength > 0) yield chunk
        }
      } finally {
        await file.close()
      }
    } else {
      offset ??= 0
    }
    if (!options.follow) return
    await sleep(logFollowLimits.pollMs, undefined, { signal: options.signal }).catch(() => undefined)
  }
}
