import { ClassicLevel } from 'classic-level'
import type { ContainerId } from '../../lib/ids.js'
import type { ContainerDb, ContainerRecord } from '../../roles/agent/agent-controller.js'

/**
 * The agent's containers in a local `level` database (`<data>/agent`), one JSON record per
 * container id; every write is synced, so a node killed right after finds it on restart.
 */
export class LevelContainerDb implements ContainerDb {
  private constructor (private readonly db: ClassicLevel<string, string>) {}

  static async open (path: string): Promise<LevelContainerDb> {
    const db = new ClassicLevel<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await db.open()
    return new LevelContainerDb(db)
  }

  async load (): Promise<ContainerRecord[]> {
    const records: ContainerRecord[] = []
    for await (const value of this.db.values()) records.push(JSON.parse(value) as ContainerRecord)
    return records
  }

  async put (record: ContainerRecord): Promise<void> {
    await this.db.put(record.placement.container, JSON.stringify(record), { sync: true })
  }

  async delete (id: ContainerId): Promise<void> {
    await this.db.del(id, { sync: true })
  }

  async close (): Promise<void> {
    await this.db.close()
  }
}
