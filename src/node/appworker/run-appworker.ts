import { join } from 'node:path'
import type { JobId, PodId } from '../../lib/ids.js'
import { AppWorkerController, appWorkerLimits } from '../../roles/appworker/appworker-controller.js'
import { ContainerRuntime } from '../../runtime/container/container-runtime.js'
import { createLogger } from '../../runtime/logger.js'
import { systemClock } from '../../runtime/system-clock.js'
import { HostTaskRunner } from './host-task-runner.js'
import { PodStateFile } from './pod-state-file.js'
import { pullSocketName, SocketCommandSource } from './pull-socket.js'

/** `galaxy appworker` after its flags are checked. */
export interface RunAppWorkerOptions {
  /** The container's directory; its socket, spec and state are in it. */
  readonly dir: string
  readonly jobId: JobId
  readonly podId: PodId
}

/**
 * Runs a container's AppWorker until SIGTERM or SIGINT: opens the container its agent made,
 * re-attaches to the tasks its state file names, and pulls commands from the node through the
 * socket in the container's directory. On a signal it stops pulling and exits; the tasks keep
 * running (the agent destroys the container when the pod is gone).
 */
export async function runAppWorker (options: RunAppWorkerOptions): Promise<number> {
  const logger = createLogger({ bindings: { component: 'appworker' } })
  const { runtime, id } = await ContainerRuntime.open(options.dir, logger)
  const spec = await runtime.spec(id)
  if (spec === undefined) throw new Error(`${options.dir} has no container spec`)
  const paths = runtime.paths(id)
  const controller = new AppWorkerController({
    source: new SocketCommandSource({
      socketPath: join(paths.root, pullSocketName),
      timeoutMs: appWorkerLimits.pullTimeoutMs,
      identity: { containerId: id, jobId: options.jobId, podId: options.podId, appWorkerPid: process.pid }
    }),
    runner: new HostTaskRunner({ runtime, id, spec, jobId: options.jobId, podId: options.podId, nowMs: () => systemClock.wallMs() }),
    store: new PodStateFile(join(paths.state, 'appworker.json')),
    clock: systemClock,
    logger,
    portNames: spec.ports.map(port => port.name)
  })
  await controller.start()
  logger.info('appworker started', { container: id, job: options.jobId, pod: options.podId })
  const signal = await new Promise<NodeJS.Signals>(resolve => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  logger.info('appworker stopping', { signal })
  await controller.stop()
  // Nothing left (a pull or a download in flight, a health probe) may keep a stopped AppWorker alive.
  setTimeout(() => { process.exit(0) }, 1000).unref()
  return 0
}
