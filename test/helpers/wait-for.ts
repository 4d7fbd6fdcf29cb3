import { sleep } from './galaxy-process.js'

/**
 * Polls `check` every `everyMs` until it answers something other than false or undefined, and
 * answers that; throws after `withinMs`, naming `what` and the last error `check` threw.
 */
export async function waitFor<T> (what: string, check: () => Promise<T | false | undefined>, withinMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + withinMs
  let last: string | undefined
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value !== false && value !== undefined) return value
    } catch (error) {
      last = (error as Error).message
    }
    await sleep(everyMs)
  }
  throw new Error(`${what}: not within ${withinMs} ms${last === undefined ? '' : `; last error: ${last}`}`)
}
