import { ApiClient, type ApiClientOptions } from '../node/api/client.js'
import type { EndpointBody } from '../node/api/job-wire.js'
import { jobPodsPrefix } from '../roles/job/pod-record.js'
import type { JobId } from '../lib/ids.js'

/** One instance of a service: where to connect. */
export type Endpoint = EndpointBody

/** Named timings of watching endpoints. */
export const namingWatchTimings = {
  /** After a watch broke (the node restarted, the network failed), how long before it is opened again. */
  retryMs: 1000
} as const

/**
 * The naming SDK: where a job's pods serve (running and healthy), read from any node's API with
 * the admin token. `resolve` answers once; `watch` yields the endpoints now and again whenever a
 * pod of the job changes, until its signal aborts, and survives a node restart by watching again.
 *
 * ```ts
 * const naming = new NamingClient({ endpoint: { host: '127.0.0.1', port: 1646 }, token })
 * for await (const endpoints of naming.watch('web', 'http')) balancer.set(endpoints)
 * ```
 */
export class NamingClient {
  private readonly client: ApiClient

  constructor (options: ApiClientOptions) {
    this.client = new ApiClient(options)
  }

  /** The endpoints of `job` (of its `service`, else each pod's first port), in pod order. */
  async resolve (job: string, service?: string): Promise<Endpoint[]> {
    return [...(await this.client.naming(job, service)).endpoints]
  }

  async * watch (job: string, service?: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<Endpoint[], void, undefined> {
    let last: string | undefined
    while (!isAborted(options.signal)) {
      try {
        // The revision before the read: a change between the read and the watch is not missed.
        const revision = (await this.client.status()).revision
        const endpoints = await this.resolve(job, service)
        const text = JSON.stringify(endpoints)
        if (text !== last) {
          last = text
          yield endpoints
        }
        for await (const line of this.client.watch(jobPodsPrefix(job as JobId), revision + 1, options)) {
          if (line.type === 'progress') continue
          const now = await this.resolve(job, service)
          const changed = JSON.stringify(now)
          if (changed !== last) {
            last = changed
            yield now
          }
        }
      } catch {
        // A node that went away or a broken watch: read and watch again below, unless told to stop.
      }
      if (isAborted(options.signal)) return
      await new Promise(resolve => setTimeout(resolve, namingWatchTimings.retryMs))
    }
  }
}

function isAborted (signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}
