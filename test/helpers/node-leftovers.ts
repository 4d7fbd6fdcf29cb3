import { existsSync, readdirSync } from 'node:fs'
import { rmdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { NodeId } from '../../src/lib/ids.js'
import { silentLogger } from '../../src/lib/logger.js'
import { cgroupParentOf } from '../../src/node/agent/node-agent.js'
import { ContainerRuntime } from '../../src/runtime/container/container-runtime.js'
import { detectIsolation } from '../../src/runtime/container/isolation.js'

const isolation = await detectIsolation()

/**
 * What a killed node leaves behind by design (its containers outlive it, to be re-adopted): every
 * container under its data dir destroyed, then its cgroup parent removed. For test teardowns.
 */
export async function destroyNodeLeftovers (dataDir: string, node: NodeId | undefined): Promise<void> {
  const containers = join(dataDir, 'containers')
  for (const name of existsSync(containers) ? readdirSync(containers) : []) {
    const opened = await ContainerRuntime.open(join(containers, name), silentLogger).catch(() => undefined)
    await opened?.runtime.destroy(opened.id, 0, 0)
  }
  if (node === undefined) return
  for (const placement of isolation.placements) await rmdir(join(placement.root, cgroupParentOf(node))).catch(() => undefined)
}

/** The node id a `galaxy up` process printed when it came up. */
export function printedNodeId (stdout: string): NodeId | undefined {
  return /\(([1-9A-HJ-NP-Za-km-z]+)\) is up in cluster/.exec(stdout)?.[1] as NodeId | undefined
}
