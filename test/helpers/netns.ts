import { spawnSync } from 'node:child_process'
import { randomInt } from 'node:crypto'
import type { ExecutionContext } from 'ava'

/** Whether this machine lets a test create network namespaces and veth pairs (root with `ip`). */
export const canUseNetns = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0

function ip (...args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim()}`)
}

/**
 * A network namespace joined to this one by a veth pair on a private /24, for partition tests:
 * a node started inside it (`ip netns exec`) reaches the others only over the pair, and `cut`
 * takes the link down — a real partition, both ways, of a process that keeps running. Traffic
 * stays on this machine (our own addresses and namespace). Removed when the test ends.
 */
export class IsolatedNetwork {
  readonly namespace: string
  readonly hostAddress: string
  readonly innerAddress: string
  private readonly hostDevice: string

  constructor (t: ExecutionContext) {
    const id = randomInt(1, 250)
    const tag = `${process.pid % 10000}${id}`
    this.namespace = `gxt${tag}`
    this.hostDevice = `gxa${tag}`
    const innerDevice = `gxb${tag}`
    this.hostAddress = `10.213.${id}.1`
    this.innerAddress = `10.213.${id}.2`
    t.teardown(() => {
      spawnSync('ip', ['link', 'del', this.hostDevice], { stdio: 'ignore' })
      spawnSync('ip', ['netns', 'del', this.namespace], { stdio: 'ignore' })
    })
    ip('netns', 'add', this.namespace)
    ip('netns', 'exec', this.namespace, 'ip', 'link', 'set', 'lo', 'up')
    ip('link', 'add', this.hostDevice, 'type', 'veth', 'peer', 'name', innerDevice)
    ip('link', 'set', innerDevice, 'netns', this.namespace)
    ip('addr', 'add', `${this.hostAddress}/24`, 'dev', this.hostDevice)
    ip('link', 'set', this.hostDevice, 'up')
    ip('netns', 'exec', this.namespace, 'ip', 'addr', 'add', `${this.innerAddress}/24`, 'dev', innerDevice)
    ip('netns', 'exec', this.namespace, 'ip', 'link', 'set', innerDevice, 'up')
  }

  /** Partitions the namespace from everything else. */
  cut (): void { ip('link', 'set', this.hostDevice, 'down') }

  /** Heals the partition. */
  heal (): void { ip('link', 'set', this.hostDevice, 'up') }
}
