import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

setFlagsFromString('--expose-gc')
/** V8's full collection, exposed to tests. */
export const gc = runInNewContext('gc') as () => void

/**
 * Lets the current turn end (a weakly held object that was dereferenced lives until then) and runs
 * a full collection, `times` over: afterwards nothing only weakly held is left.
 */
export async function collectGarbage (times = 3): Promise<void> {
  for (let i = 0; i < times; i++) {
    await new Promise(resolve => setImmediate(resolve))
    gc()
  }
}
