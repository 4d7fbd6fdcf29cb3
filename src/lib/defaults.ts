import type { HostPort } from './host-port.js'

/** Where a node listens for other nodes (libp2p) unless told otherwise. */
export const defaultListen: HostPort = { host: '0.0.0.0', port: 1645 }

/** Where a node serves its HTTP API unless told otherwise: loopback only. */
export const defaultApi: HostPort = { host: '127.0.0.1', port: 1646 }

/**
 * The data dir unless `--data` says otherwise: `/var/lib/galaxy` for root, as system daemons keep
 * state, and `~/.galaxy` for anyone else, who cannot write there.
 */
export function defaultDataDir (uid: number, homeDir: string): string {
  return uid === 0 ? '/var/lib/galaxy' : `${homeDir.replace(/\/+$/, '')}/.galaxy`
}
