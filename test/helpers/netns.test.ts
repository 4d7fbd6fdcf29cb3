// The partition helper itself: a cut must keep what is sent to the namespace on this machine.
import { spawnSync } from 'node:child_process'
import { canUseNetns, IsolatedNetwork } from './netns.js'
import { testIf } from './host.js'

/** How this side would send to `address`: `ip route get`'s answer, or its error. */
function routeTo (address: string): string {
  const result = spawnSync('ip', ['route', 'get', address], { encoding: 'utf8' })
  return result.status === 0 ? result.stdout : `error: ${result.stderr.trim()}`
}

testIf(canUseNetns, 'needs root and ip netns')('a cut namespace is still routed over its pair, never by the default route, and healing restores it', t => {
  const net = new IsolatedNetwork(t)
  const overPair = new RegExp(`dev ${net.hostDevice} `)
  t.regex(routeTo(net.innerAddress), overPair, 'before the cut')
  net.cut()
  t.regex(routeTo(net.innerAddress), overPair, 'during the cut')
  net.heal()
  t.regex(routeTo(net.innerAddress), overPair, 'after healing')
})

testIf(canUseNetns, 'needs root and ip netns')('should this side\'s route to the pair go, the namespace is unreachable rather than routed away', t => {
  const net = new IsolatedNetwork(t)
  // Taking this side's end down removes its route, as a host that ignores routes over a link
  // that is down would.
  const down = spawnSync('ip', ['link', 'set', net.hostDevice, 'down'])
  t.is(down.status, 0)
  t.regex(routeTo(net.innerAddress), /^error: .*No route to host/)
})
