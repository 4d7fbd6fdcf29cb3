import { readFile, rename } from 'node:fs/promises'
import { writeSyncedFile } from '../../runtime/host/durable-file.js'
import type { PodStateStore, SavedPod } from '../../roles/appworker/appworker-controller.js'

/**
 * The AppWorker's state in one JSON file of the container's state dir, replaced whole (written
 * beside it, synced, renamed), so that a crash leaves the old state or the new one, never half.
 */
export class PodStateFile implements PodStateStore {
  constructor (private readonly path: string) {}

  async load (): Promise<SavedPod | undefined> {
    const text = await readFile(this.path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined
      throw error
    })
    return text === undefined ? undefined : JSON.parse(text) as SavedPod
  }

  async save (state: SavedPod): Promise<void> {
    const temporary = `${this.path}.new`
    await writeSyncedFile(temporary, JSON.stringify(state))
    await rename(temporary, this.path)
  }
}
