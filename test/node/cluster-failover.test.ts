import test from 'ava'
import { decodeValue } from '../../src/node/api/client.js'
import { ProcessCluster, sleep } from '../helpers/galaxy-process.js'

const text = (value: string): Uint8Array => new TextEncoder().encode(value)
const read = (value: string | undefined): string => new TextDecoder().decode(decodeValue(value ?? ''))

test('kill -9 of the leader: a new leader takes writes, the killed node catches up, a full restart keeps every acknowledged write', async t => {
  t.timeout(240_000)
  const cluster = new ProcessCluster(t)
  // A wide suspect window, so that polling under load cannot step over it.
  const flags = ['--suspect-after', '1s', '--dead-after', '5s']
  await cluster.addSeeds(['s1', 's2', 's3'], flags)
  const acknowledged = new Map<string, string>()
  for (let i = 0; i < 20; i++) {
    await cluster.client(`s${1 + (i % 3)}`).put(`k${i}`, text(`v${i}`))
    acknowledged.set(`k${i}`, `v${i}`)
  }

  const leader = await cluster.leaderName('s1')
  const survivors = ['s1', 's2', 's3'].filter(name => name !== leader)
  // Whether both survivors follow it at the kill: only a follower of the dead leader acts on its loss.
  const followed = (await Promise.all(survivors.map(async name => await cluster.leaderName(name)))).every(name => name === leader)
  await cluster.node(leader).kill()
  const newLeader = await cluster.waitStatus(survivors[0] ?? '', status => status.leader !== null && status.leader.name !== leader)
  t.not(newLeader.leader?.name, leader)
  // Its connections closed and a redial was refused, so a survivor did not wait out an election timeout.
  if (followed) t.true(survivors.some(name => cluster.node(name).stderr.includes('leader gone: campaigning early')), 'a survivor campaigned as soon as the leader was gone')
  else t.log('leadership moved just before the kill: the early campaign was not checked')
  for (let i = 20; i < 40; i++) {
    await cluster.client(survivors[i % 2] ?? '').put(`k${i}`, text(`v${i}`))
    acknowledged.set(`k${i}`, `v${i}`)
  }

  // Gossip notices: the killed node turns suspect, then dead, in the survivors' node list.
  const states = new Set<string>()
  const gossipDeadline = Date.now() + 20_000
  while (!states.has('dead') && Date.now() < gossipDeadline) {
    const seen = (await cluster.client(survivors[0] ?? '').nodes()).nodes.find(node => node.name === leader)
    if (seen !== undefined) states.add(seen.state)
    await sleep(100)
  }
  t.true(states.has('suspect') && states.has('dead'), `the killed node went ${[...states].join(' → ')}`)

  // The killed node restarts on its data dir and catches up.
  await cluster.node(leader).start()
  const deadline = Date.now() + 30_000
  while (read((await cluster.client(leader).get('k39', { stale: true }).catch(() => ({ kv: null }))).kv?.value) !== 'v39') {
    if (Date.now() > deadline) t.fail(`${leader} did not catch up`)
    await sleep(100)
  }

  // Everything stops (cleanly), then everything starts again: no acknowledged write is lost.
  for (const name of ['s1', 's2', 's3']) t.is(await cluster.node(name).stop(), 0, `${name} exits 0 on SIGTERM`)
  for (const name of ['s1', 's2', 's3']) await cluster.node(name).start()
  await cluster.leaderName('s2')
  for (const name of ['s1', 's2', 's3']) {
    const items = new Map<string, string>()
    let after: string | undefined
    while (true) {
      const page = await cluster.client(name).list('k', { after, limit: 15 })
      for (const item of page.items) items.set(item.key, read(item.value))
      if (!page.more) break
      after = page.items[page.items.length - 1]?.key
    }
    t.deepEqual(Object.fromEntries([...items].sort()), Object.fromEntries([...acknowledged].sort()), `${name} has every acknowledged write`)
  }
})

test('SIGTERM to a leader whose followers are gone: it does not wait for a handover that cannot happen, and exits 0', async t => {
  t.timeout(120_000)
  const cluster = new ProcessCluster(t)
  await cluster.addSeeds(['s1', 's2', 's3'])
  const leader = await cluster.leaderName('s1')
  for (const name of ['s1', 's2', 's3'].filter(name => name !== leader)) await cluster.node(name).kill()
  t.is(await cluster.node(leader).stop(), 0)
  const lines = cluster.node(leader).stderr.split('\n')
  // Their connections closed with their processes: there is no one to hand leadership to, and no
  // quorum to commit the revoke of its role lease, so neither is waited for.
  t.false(lines.some(line => line.includes('"msg":"transferring leadership"')), 'no transfer was begun')
  const stepped = lines.some(line => line.includes('"msg":"stepped down: quorum not heard from"'))
  const failed = lines.find(line => line.includes('"msg":"leadership transfer failed"'))
  if (failed === undefined) t.true(stepped, 'only a leader that already stepped down skips the transfer silently')
  else t.regex(failed, /no other voter is connected to hand leadership to/)
})
