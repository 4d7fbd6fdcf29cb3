import { homedir, hostname, networkInterfaces } from 'node:os'
import bytes from 'bytes'
import { Command, Option } from 'clipanion'
import { defaultApi, defaultDataDir, defaultListen } from '../../lib/defaults.js'
import { parseDuration } from '../../lib/duration.js'
import { UsageError } from '../../lib/errors.js'
import { formatHostPort, parseHostPort, type HostPort } from '../../lib/host-port.js'
import { parsePoolName } from '../../lib/ids.js'
import type { ClusterNode } from '../../node/cluster-node.js'
import { GalaxyCommand } from '../base-command.js'
import { writeJson } from '../output.js'

/** The roles a node can play (DESIGN.md); a node plays all of them unless told otherwise. */
const knownRoles = ['resman', 'appmaster', 'agent'] as const

/**
 * `galaxy up`: runs a node in the foreground. The first seed bootstraps a cluster and prints how
 * to join it; `--join` adds a node (`--seed` makes it a voter once caught up); a restart with the
 * same `--data` rejoins.
 */
export class UpCommand extends GalaxyCommand {
  static override paths = [['up']]

  static override usage = Command.Usage({
    description: 'Run a galaxy node in the foreground',
    details: `
      The first seed (no --join) bootstraps a cluster: it writes the cluster key to <data>/cluster.key and an admin token to <data>/admin.token, and prints the command that adds more nodes. Copy the key file to every other host.

      With --join, the node joins through a running seed: with --seed it becomes a learner, catches up and is promoted to a voting seed; without it, it is a node that forwards to the seeds. A restart with the same --data rejoins with the same identity; --join is then optional.

      --dev runs a throwaway one-node cluster with every role in a temporary data dir.

      SIGTERM or Ctrl-C stops the node; a leader hands leadership to another seed first.
    `,
    examples: [
      ['Start the first seed', 'galaxy up --seed --name seed1'],
      ['Add a seed', 'galaxy up --seed --join 10.0.0.1:1645 --key-file cluster.key --name seed2'],
      ['Add a node that forwards', 'galaxy up --join 10.0.0.1:1645 --key-file cluster.key'],
      ['A laptop cluster', 'galaxy up --dev']
    ]
  })

  dev = Option.Boolean('--dev', false, { description: 'A one-node cluster with every role and a temporary data dir' })
  seed = Option.Boolean('--seed', false, { description: 'Take part in the Raft group (the first node is always a seed)' })
  join = Option.Array('--join', [], { description: `HOST[:PORT] of a seed to join through (repeatable; port ${defaultListen.port} unless given)` })
  data = Option.String('--data', { description: 'The data dir (default ~/.galaxy, or /var/lib/galaxy as root)' })
  listen = Option.String('--listen', { description: `Where other nodes reach this one (default ${formatHostPort(defaultListen)})` })
  api = Option.String('--api', { description: `Where the HTTP API listens (default ${formatHostPort(defaultApi)})` })
  name = Option.String('--name', { description: 'The node name (default the host name)' })
  roles = Option.String('--roles', { description: `Comma-separated roles (default ${knownRoles.join(',')})` })
  pool = Option.String('--pool', 'default', { description: 'The pool this node belongs to' })
  label = Option.Array('--label', [], { description: 'KEY=VALUE tag (repeatable)' })
  keyFile = Option.String('--key-file', { description: 'The cluster key file (default $GALAXY_CLUSTER_KEY, else <data>/cluster.key)' })
  suspectAfter = Option.String('--suspect-after', '3s', { description: 'A node silent on gossip this long is suspect' })
  deadAfter = Option.String('--dead-after', '10s', { description: 'A node silent on gossip this long is dead' })
  rescheduleAfter = Option.String('--reschedule-after', '30s', { description: 'A node silent this long is given up: the ResMan places its pods on other nodes (so is a pod whose AppWorker stops pulling)' })
  reserve = Option.String('--reserve', { description: 'What the agent keeps back for the host, e.g. cpu=500m,memory=512MB,disk=1GB (the default; 1GB = 1024 MB)' })
  logLevel = Option.String('--log-level', 'info', { description: 'debug, info, warn or error' })

  protected async run (): Promise<number> {
    const env = this.context.env
    const first = !this.dev && this.join.length === 0
    const listen = hostPortFlag('--listen', this.listen, this.dev ? { host: '127.0.0.1', port: defaultListen.port } : defaultListen)
    const api = hostPortFlag('--api', this.api, defaultApi)
    // A seed's port may be left out: it is the default listen port.
    const join = this.join.map(text => hostPortFlag('--join', /^[^:[\]]+$/.test(text) ? `${text}:${defaultListen.port}` : text, defaultListen))
    if (this.dev && join.length > 0) throw new UsageError('--dev runs a one-node cluster and cannot --join')
    if (this.dev && this.data !== undefined) throw new UsageError('--dev uses a temporary data dir; drop --data')
    const pool = parsePoolName(this.pool)
    if (!pool.ok) throw new UsageError(`--pool: ${pool.error}`)
    const roles = (this.roles ?? knownRoles.join(',')).split(',').map(role => role.trim()).filter(role => role !== '')
    for (const role of roles) if (!(knownRoles as readonly string[]).includes(role)) throw new UsageError(`--roles: unknown role "${role}" (known: ${knownRoles.join(', ')})`)
    const labels: Record<string, string> = {}
    for (const text of this.label) {
      const match = /^([A-Za-z0-9][A-Za-z0-9._/-]{0,62})=(.{0,253})$/.exec(text)
      if (match === null) throw new UsageError(`--label: "${text}" is not KEY=VALUE`)
      labels[match[1] as string] = match[2] as string
    }
    if (!['debug', 'info', 'warn', 'error'].includes(this.logLevel)) throw new UsageError(`--log-level: "${this.logLevel}" is not debug, info, warn or error`)
    const suspectAfterMs = durationFlag('--suspect-after', this.suspectAfter)
    const deadAfterMs = durationFlag('--dead-after', this.deadAfter)
    if (suspectAfterMs < 1000 || deadAfterMs <= suspectAfterMs) throw new UsageError('--suspect-after must be at least 1s and --dead-after longer than it')
    const rescheduleAfterMs = durationFlag('--reschedule-after', this.rescheduleAfter)
    if (rescheduleAfterMs < deadAfterMs) throw new UsageError('--reschedule-after must be at least --dead-after')
    const reserve = this.reserve === undefined ? undefined : parseReserve(this.reserve)
    const name = this.name ?? hostname()
    if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$/.test(name)) throw new UsageError(`--name: "${name}" must be letters, digits, dots and dashes`)
    const dataDir = this.dev ? undefined : this.data ?? defaultDataDir(process.getuid?.() ?? 1000, homedir())
    const stdout = this.context.stdout
    // Loaded on demand: libp2p and level are heavy, and every other command starts faster without them.
    const { runNode } = await import('../../node/run-node.js')
    return await runNode({
      dataDir,
      listen,
      api,
      name,
      seed: this.seed || this.dev || first,
      join,
      roles,
      pool: pool.value,
      labels,
      clusterKeyFile: this.keyFile,
      suspectAfterMs,
      deadAfterMs,
      rescheduleAfterMs,
      reserve,
      clusterKeyEnv: env.GALAXY_CLUSTER_KEY,
      logLevel: this.logLevel as 'info',
      prettyLogs: (this.context.stderr as { isTTY?: boolean }).isTTY === true,
      onStarted: (node, dir) => { this.announce(stdout, node, dir, listen) }
    })
  }

  private announce (stdout: NodeJS.WritableStream, node: ClusterNode, dataDir: string, listen: HostPort): void {
    const api = formatHostPort(node.api)
    const hint = node.joinHint
    if (this.json) {
      writeJson(stdout, { id: node.id, name: node.name, clusterId: node.clusterId, api, dataDir, ...(hint === undefined ? {} : { token: hint.token, keyFile: hint.keyFile, tokenFile: hint.tokenFile }) })
      return
    }
    stdout.write(`galaxy node ${node.name} (${node.id}) is up in cluster ${node.clusterId}\n  data: ${dataDir}\n  api:  http://${api}\n`)
    if (hint === undefined) return
    if (this.dev) {
      stdout.write(`\nAdmin token:\n  export GALAXY_TOKEN=${hint.token}\n  export GALAXY_ADDR=${api}\n`)
      return
    }
    const seedAddress = formatHostPort({ host: advertisedHost(listen.host), port: listen.port })
    stdout.write([
      '',
      `Admin token (also in ${hint.tokenFile}):`,
      `  export GALAXY_TOKEN=${hint.token}`,
      '',
      `Copy ${hint.keyFile} to each new host, then run there:`,
      `  galaxy up --seed --join ${seedAddress} --key-file cluster.key    # another seed (3 or 5 in all)`,
      `  galaxy up --join ${seedAddress} --key-file cluster.key           # a node that is not a seed`,
      ''
    ].join('\n'))
  }
}

function durationFlag (flag: string, text: string): number {
  const parsed = parseDuration(text)
  if (!parsed.ok) throw new UsageError(`${flag}: ${parsed.error}`)
  return parsed.value
}

function hostPortFlag (flag: string, text: string | undefined, fallback: HostPort): HostPort {
  if (text === undefined) return fallback
  const parsed = parseHostPort(text)
  if (!parsed.ok) throw new UsageError(`${flag}: ${parsed.error}`)
  return parsed.value
}

/** The address other hosts should use: the first non-loopback IPv4 when listening on all interfaces. */
function advertisedHost (host: string): string {
  if (host !== '0.0.0.0') return host
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address
  }
  return '127.0.0.1'
}

/** `--reserve cpu=500m,memory=512MB,disk=1GB`: cpu in cores or millicores, sizes as `bytes` reads them (1024-based); what is not named keeps its default. */
function parseReserve (text: string): { cpuMillicores?: number, memoryBytes?: number, diskBytes?: number } {
  const reserve: { cpuMillicores?: number, memoryBytes?: number, diskBytes?: number } = {}
  for (const part of text.split(',')) {
    const match = /^(cpu|memory|disk)=(.+)$/.exec(part.trim())
    if (match === null) throw new UsageError(`--reserve: "${part}" is not cpu=…, memory=… or disk=…`)
    const [, what, value] = match as unknown as [string, 'cpu' | 'memory' | 'disk', string]
    if (what === 'cpu') {
      const cpu = /^(\d+)m$/.test(value) ? Number(value.slice(0, -1)) : /^\d+(\.\d+)?$/.test(value) ? Math.round(Number(value) * 1000) : NaN
      if (!Number.isSafeInteger(cpu)) throw new UsageError(`--reserve: cpu "${value}" is not cores (1.5) or millicores (1500m)`)
      reserve.cpuMillicores = cpu
    } else {
      const size = /^\d+(\.\d+)?\s*(b|kb|mb|gb|tb)?$/i.test(value) ? bytes.parse(value) : null
      if (size === null || !Number.isSafeInteger(size)) throw new UsageError(`--reserve: ${what} "${value}" is not a size like 512MB or 2GB`)
      reserve[what === 'memory' ? 'memoryBytes' : 'diskBytes'] = size
    }
  }
  return reserve
}
