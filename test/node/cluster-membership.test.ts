import test from 'ava'
import { decodeValue } from '../../src/node/api/client.js'
import { runGalaxy } from '../cli/run.js'
import { ProcessCluster } from '../helpers/galaxy-process.js'

const text = (value: string): Uint8Array => new TextEncoder().encode(value)
const voters = (status: { members: ReadonlyArray<{ suffrage: string, name: string }> }): string[] =>
  status.members.filter(member => member.suffrage === 'voter').map(member => member.name).sort()

test('three seeds form a cluster; a node joins as non-voter, a seed joins and is promoted, one is removed', async t => {
  t.timeout(180_000)
  const cluster = new ProcessCluster(t)
  await cluster.add({ name: 's1' })
  await cluster.add({ name: 's2', seed: true, join: ['s1'] })
  await cluster.add({ name: 's3', seed: true, join: ['s1', 's2'] })
  const formed = await cluster.waitStatus('s1', status => voters(status).length === 3 && status.leader !== null)
  t.deepEqual(voters(formed), ['s1', 's2', 's3'])

  // A write through any seed is read back, linearizably, through any other.
  await cluster.client('s2').put('greeting', text('hello'))
  t.is(new TextDecoder().decode(decodeValue((await cluster.client('s3').get('greeting')).kv?.value ?? '')), 'hello')

  // A node that is not a seed joins, forwards, and stays out of the Raft group.
  await cluster.add({ name: 'n4', join: ['s2'] })
  await cluster.client('n4').put('from-n4', text('x'))
  t.is((await cluster.client('s1').get('from-n4')).kv?.version, 1)
  const nodes = (await cluster.client('n4').nodes()).nodes
  t.deepEqual(nodes.map(node => node.name).sort(), ['n4', 's1', 's2', 's3'])
  t.is(nodes.find(node => node.name === 'n4')?.raftRole, 'none')
  t.deepEqual(voters(await cluster.client('s1').status()), ['s1', 's2', 's3'])

  // A fifth node joins as a seed: a learner first, a voter once it caught up.
  await cluster.add({ name: 's5', seed: true, join: ['s3'] })
  await cluster.waitStatus('s1', status => voters(status).includes('s5'))
  t.is(new TextDecoder().decode(decodeValue((await cluster.client('s5').get('greeting', { stale: true })).kv?.value ?? '')), 'hello')

  // The CLI against a real node: members as JSON, then remove-peer takes s5 out.
  const env = { GALAXY_TOKEN: cluster.token }
  const members = await runGalaxy(['members', '--json', '--addr', `127.0.0.1:${cluster.node('s1').apiPort}`], env)
  t.is(members.exitCode, 0, members.stderr)
  const s5 = (JSON.parse(members.stdout) as { members: Array<{ name: string, id: string }> }).members.find(member => member.name === 's5')
  t.truthy(s5)
  const removed = await runGalaxy(['operator', 'raft', 'remove-peer', s5?.id ?? '', '--addr', `127.0.0.1:${cluster.node('s2').apiPort}`], env)
  t.is(removed.exitCode, 0, removed.stderr)
  const after = await cluster.waitStatus('s1', status => !status.members.some(member => member.name === 's5'))
  t.deepEqual(voters(after), ['s1', 's2', 's3'])
  await cluster.client('s3').put('after-removal', text('y'))
  t.is((await cluster.client('s1').get('after-removal')).kv?.version, 1)
})

test('a node without the cluster key cannot connect, and says so', async t => {
  t.timeout(120_000)
  const cluster = new ProcessCluster(t)
  await cluster.add({ name: 's1' })
  const other = new ProcessCluster(t)
  await other.add({ name: 'x1' })
  // x1's key belongs to another cluster: its noise handshakes fail, so no connection completes.
  const intruder = await cluster.create({ name: 'bad', seed: true, join: ['s1'], keyFile: other.keyFile })
  const failure = await t.throwsAsync(intruder.start())
  t.regex(failure?.message ?? '', /cannot join the cluster through 127\.0\.0\.1:\d+/)
  t.not(await intruder.waitExit(), 0)
  t.false((await cluster.client('s1').nodes()).nodes.some(node => node.name === 'bad'))
})
