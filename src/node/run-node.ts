import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LogLevel } from '../lib/logger.js'
import { createLogger } from '../runtime/logger.js'
import { ClusterNode, type ClusterNodeOptions } from './cluster-node.js'

/** `galaxy up` after its flags are checked. */
export interface RunNodeOptions extends Omit<ClusterNodeOptions, 'logger' | 'dataDir'> {
  /** The data dir, or undefined for a temporary one removed at exit (`--dev`). */
  readonly dataDir: string | undefined
  readonly logLevel: LogLevel
  /** Human-readable logs (standard error is a terminal). */
  readonly prettyLogs: boolean
  /** Called once the node serves, with what to tell the operator. */
  readonly onStarted: (node: ClusterNode, dataDir: string) => void
}

/**
 * Runs a node until SIGTERM or SIGINT: then a leader hands over leadership, the node stops
 * cleanly, and a temporary data dir is removed. Resolves with the exit status.
 */
export async function runNode (options: RunNodeOptions): Promise<number> {
  // pino-pretty is loaded only for a terminal (see prettyLogDestination).
  const destination = options.prettyLogs ? (await import('../runtime/pretty-log-destination.js')).prettyLogDestination() : undefined
  const logger = createLogger({ level: options.logLevel, destination })
  const temporary = options.dataDir === undefined
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), 'galaxy-dev-'))
  let node: ClusterNode
  try {
    node = await ClusterNode.start({ ...options, dataDir, logger })
  } catch (error) {
    if (temporary) await rm(dataDir, { recursive: true, force: true })
    throw error
  }
  options.onStarted(node, dataDir)
  const reason = await Promise.race([
    new Promise<NodeJS.Signals>(resolve => {
      process.once('SIGTERM', resolve)
      process.once('SIGINT', resolve)
    }),
    node.failed
  ])
  if (reason instanceof Error) logger.error('replication failed; stopping so that a supervisor restarts the node', { error: reason.message })
  else logger.info('stopping', { signal: reason })
  await node.stop({ disposable: temporary })
  if (temporary) await rm(dataDir, { recursive: true, force: true })
  logger.info('stopped')
  const status = reason instanceof Error ? 1 : 0
  // Everything the node owns is closed and its log lines are written (synchronously). What else
  // keeps the event loop up must not keep a stopped node alive: requests still waiting (a long
  // lock wait, a watch), and timers libraries leave behind — gossipsub's last heartbeat and
  // libp2p's address-manager debounce held the process for up to a second after "stopped".
  setTimeout(() => { process.exit(status) }, 0).unref()
  return status
}
