import { createServer } from 'node:net'
import type { HostPort } from '../../lib/host-port.js'

/** Whether a TCP port can be bound on a host address. */
export interface PortProbe {
  readonly purpose: string
  readonly host: string
  readonly port: number
  readonly state: 'free' | 'in-use' | 'unavailable'
  readonly error: string
}

/** Binds `endpoint` for an instant and releases it, to tell whether `galaxy up` could. */
export async function probePort (purpose: string, endpoint: HostPort): Promise<PortProbe> {
  const base = { purpose, host: endpoint.host, port: endpoint.port }
  return await new Promise(resolve => {
    const server = createServer()
    server.once('error', (error: NodeJS.ErrnoException) => {
      const state = error.code === 'EADDRINUSE' ? 'in-use' : 'unavailable'
      resolve({ ...base, state, error: error.code === 'EADDRINUSE' ? 'another process is listening there' : error.message })
    })
    server.listen({ host: endpoint.host, port: endpoint.port, exclusive: true }, () => {
      server.close(() => { resolve({ ...base, state: 'free', error: '' }) })
    })
  })
}
