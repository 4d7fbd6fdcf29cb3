import { spawnSync } from 'node:child_process'
import { randomInt } from 'node:crypto'
import type { ExecutionContext } from 'ava'

/** Whether this machine lets a test create network namespaces and veth pairs (root with `ip`). */
export const canUseNetns = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0

function ip (...args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim()}`)
}

/** The metric of the route that keeps a pair's /24 off the default route (above the pair's own). */
const guardMetric = '4000'

/**
 * A network namespace joined to this one by a veth pair on a private /24, for partition tests:
 * a node started inside it (`ip netns exec`) reaches the others only over the pair, and `cut`
 * takes the link down — a real partition, both ways, of a process that keeps running. Traffic
 * stays on this machine (our own addresses and namespace). Removed when the test ends.
 *
 * The cut takes down the inner end. Taking down this side's end would remove this side's route to
 * the pair's /24, and what is sent there meanwhile would leave by the default route.
 */
export class IsolatedNetwork {
  readonly namespace: string
  readonly hostAddress: string
  readonly innerAddress: string
  readonly hostDevice: string
  private readonly innerDevice: string

  constructor (t: ExecutionContext) {
    const id = randomInt(1, 250)
    const tag = `${process.pid % 10000}${id}`
    this.namespace = `gxt${tag}`
    this.hostDevice = `gxa${tag}`
    this.innerDevice = `gxb${tag}`
    const subnet = `10.213.${id}.0/24`
    this.hostAddress = `10.213.${id}.1`
    this.innerAddress = `10.213.${id}.2`
    t.teardown(() => {
      spawnSync('ip', ['route', 'del', 'unreachable', subnet, 'metric', guardMetric], { stdio: 'ignore' })
      spawnSync('ip', ['link', 'del', this.hostDevice], { stdio: 'ignore' })
      spawnSync('ip', ['netns', 'del', this.namespace], { stdio: 'ignore' })
    })
    ip('netns', 'add', this.namespace)
    ip('netns', 'exec', this.namespace, 'ip', 'link', 'set', 'lo', 'up')
    // Should this side's route to the pair go (a host that ignores routes of a link that is down),
    // this one answers at once that the pair is unreachable rather than the default route.
    ip('route', 'add', 'unreachable', subnet, 'metric', guardMetric)
    ip('link', 'add', this.hostDevice, 'type', 'veth', 'peer', 'name', this.innerDevice)
    ip('link', 'set', this.innerDevice, 'netns', this.namespace)
    ip('addr', 'add', `${this.hostAddress}/24`, 'dev', this.hostDevice)
    ip('link', 'set', this.hostDevice, 'up')
    ip('netns', 'exec', this.namespace, 'ip', 'addr', 'add', `${this.innerAddress}/24`, 'dev', this.innerDevice)
    ip('netns', 'exec', this.namespace, 'ip', 'link', 'set', this.innerDevice, 'up')
  }

  /**
   * Partitions the namespace from everything else: this side's packets to it are dropped at the
   * pair, and inside it nothing has a route out.
   */
  cut (): void { ip('netns', 'exec', this.namespace, 'ip', 'link', 'set', this.innerDevice, 'down') }

  /** Heals the partition. */
  heal (): void { ip('netns', 'exec', this.namespace, 'ip', 'link', 'set', this.innerDevice, 'up') }
}
