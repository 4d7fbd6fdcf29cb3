import { err, ok, type Result } from './result.js'

/** A TCP endpoint as a person writes it: `127.0.0.1:1646`, `[::1]:1646`, `node3:1645`. */
export interface HostPort {
  readonly host: string
  readonly port: number
}

/**
 * Parses `HOST:PORT`. IPv6 hosts go in brackets. Port 0 is accepted only when `allowAnyPort` is
 * set, because it means "the kernel picks" and a client cannot dial it.
 */
export function parseHostPort (text: string, options: { allowAnyPort?: boolean } = {}): Result<HostPort> {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim())
  if (match === null) return err(`"${text}" is not HOST:PORT (IPv6 hosts go in brackets: [::1]:1646)`)
  const host = (match[1] ?? match[2]) as string
  const port = Number(match[3])
  const lowestPort = options.allowAnyPort === true ? 0 : 1
  if (port < lowestPort || port > 65535) return err(`port ${port} in "${text}" is outside ${lowestPort}-65535`)
  return ok({ host, port })
}

/** Prints an endpoint so that `parseHostPort` reads it back. */
export function formatHostPort ({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
