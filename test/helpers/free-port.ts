import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/**
 * Where test ports come from: below the kernel's ephemeral range, which every outgoing
 * connection draws its local port from. A port the kernel handed out (`listen(0)`) is an
 * ephemeral one: once a test's node stopped, any client connection could take it as its source
 * port, and the node's restart on the same address failed with EADDRINUSE.
 */
const portRange = ((): { low: number, high: number } => {
  let ephemeralLow = 32768
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow
  } catch {
    // Not Linux: the usual default.
  }
  return { low: 10_000, high: Math.max(10_001, Math.min(ephemeralLow, 65_536)) }
})()

/** Ports this process handed out already: never twice. */
const handedOut = new Set<number>()

async function isFree (port: number): Promise<boolean> {
  const server = createServer()
  return await new Promise<boolean>(resolve => {
    server.once('error', () => { resolve(false) })
    server.listen({ host: '127.0.0.1', port }, () => { server.close(() => { resolve(true) }) })
  })
}

/** A TCP port on 127.0.0.1 that was free a moment ago, outside the ephemeral range (see above). */
export async function freePort (): Promise<number> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = portRange.low + Math.floor(Math.random() * (portRange.high - portRange.low))
    if (handedOut.has(port)) continue
    if (await isFree(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free port between ${portRange.low} and ${portRange.high} after 1000 tries`)
}
