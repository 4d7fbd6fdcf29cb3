import { join } from 'node:path'
import type { ContainerId } from '../../lib/ids.js'
import type { Logger } from '../../lib/logger.js'
import type { PullRelay, RelayedPull } from '../../roles/agent/agent-controller.js'
import type { PodCommand } from '../../roles/appworker/pod-status.js'
import { PullError, pullSocketName, PullSocketServer } from '../appworker/pull-socket.js'

/** Serves the pull socket `<container>/agent.sock` of each container the agent has. */
export class SocketPullRelay implements PullRelay {
  private readonly servers = new Map<ContainerId, PullSocketServer>()

  constructor (private readonly options: { readonly containerDir: (id: ContainerId) => string, readonly logger: Logger }) {}

  async open (id: ContainerId, answer: (pull: RelayedPull) => Promise<PodCommand>): Promise<void> {
    if (this.servers.has(id)) return
    const server = await PullSocketServer.listen(join(this.options.containerDir(id), pullSocketName), async pull => {
      if (pull.containerId !== id) throw new PullError(`a pull for container ${pull.containerId} on the socket of ${id}`)
      return await answer(pull)
    })
    this.servers.set(id, server)
  }

  async close (id: ContainerId): Promise<void> {
    const server = this.servers.get(id)
    if (server === undefined) return
    this.servers.delete(id)
    await server.close().catch(error => { this.options.logger.debug('closing a pull socket failed', { container: id, error: (error as Error).message }) })
  }
}
