import { statfs } from 'node:fs/promises'
import { availableParallelism, totalmem } from 'node:os'
import type { NodeCapacity } from './liveness.js'

/**
 * What this host has to offer, for the node's gossip report: the CPUs this process may use, all
 * of the memory, and the total size of the filesystem that holds `dataDir` (which must exist).
 */
export async function measureCapacity (dataDir: string): Promise<NodeCapacity> {
  const disk = await statfs(dataDir)
  return {
    cpuCores: availableParallelism(),
    memoryBytes: totalmem(),
    diskBytes: Number(disk.blocks) * Number(disk.bsize)
  }
}
