// What one message between two members costs: a ping-pong between two Node processes on
// 127.0.0.1, once over a bare TCP socket and once over the libp2p stack galaxy's members talk on
// (TCP, noise with the cluster prologue, yamux, a length-prefixed frame on a named protocol, read
// from the stream's message events as the Raft transport reads). Each round trip is one message
// each way; reported: the round trip's p50/p90 and the CPU both processes used per round trip.
//
// Usage: node --import tsx bench/message-hop.ts [--round-trips 20000] [--bytes 400]
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream, StreamMessageEvent } from '@libp2p/interface'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { parseArgs } from 'node:util'
import * as varint from 'uint8-varint'
import { deferred } from '../src/lib/deferred.js'
import { createHost } from '../src/node/net/host.js'
import { cpuTimeMs } from './proc-cpu.js'

const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'round-trips': { type: 'string', default: '20000' }, bytes: { type: 'string', default: '400' } } })
const roundTrips = Number(values['round-trips'])
const bytes = Number(values.bytes)
const warmup = Math.min(2000, Math.floor(roundTrips / 10))
const protocol = '/galaxy/bench-hop/1'
const clusterKey = new Uint8Array(32).fill(7)

type Send = (data: Uint8Array) => void
/** Starts reading; calls `onMessage` for each whole message. */
type Listen = (onMessage: () => void) => void

if (positionals[0] === 'echo') await echo(positionals[1] as 'tcp' | 'libp2p')
else await main()

/** The child: echoes every message back, over the stack it was asked for; prints where to reach it. */
async function echo (stack: 'tcp' | 'libp2p'): Promise<void> {
  if (stack === 'tcp') {
    const server = createServer(socket => {
      socket.setNoDelay(true)
      socket.on('data', chunk => socket.write(chunk))
    })
    server.listen(0, '127.0.0.1', () => { process.send?.({ port: (server.address() as AddressInfo).port }) })
    return
  }
  const host = await createHost({ peerKey: await generateKeyPair('Ed25519'), clusterKey, listen: { host: '127.0.0.1', port: 0 } })
  const reply = payload()
  await host.handle(protocol, stream => {
    const { send, listen } = framed(stream)
    listen(() => { send(reply) })
  })
  process.send?.({ address: `${host.getMultiaddrs()[0]?.toString() ?? ''}` })
}

async function main (): Promise<void> {
  console.log(`${roundTrips.toLocaleString('en-US')} round trips of ${bytes} bytes each way (after ${warmup} to warm up), node ${process.version}, 2 processes on 127.0.0.1`)
  console.log('| stack | round trip p50 | p90 | CPU per round trip (both processes) |')
  console.log('| --- | --- | --- | --- |')
  for (const stack of ['tcp', 'libp2p'] as const) {
    const child = fork(import.meta.filename, ['echo', stack], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    try {
      const [where] = await once(child, 'message') as [{ port?: number, address?: string }]
      const link = stack === 'tcp' ? await tcpLink(where.port as number) : await libp2pLink(where.address as string)
      const result = await pingPong(link, child)
      console.log(`| ${stack === 'tcp' ? 'bare TCP socket' : 'libp2p (noise, yamux, framed)'} | ${result.p50.toFixed(0)} µs | ${result.p90.toFixed(0)} µs | ${result.cpuUs.toFixed(0)} µs |`)
      await link.close()
    } finally {
      child.kill('SIGKILL')
    }
  }
  process.exit(0)
}

interface Link { send: Send, listen: Listen, close: () => Promise<void> }

async function tcpLink (port: number): Promise<Link> {
  const socket: Socket = connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  await once(socket, 'connect')
  let received = 0
  return {
    send: data => { socket.write(data) },
    // A bare socket has no frames: a message is whole once its bytes are in.
    listen: onMessage => {
      socket.on('data', chunk => {
        received += chunk.byteLength
        while (received >= bytes) { received -= bytes; onMessage() }
      })
    },
    close: async () => { socket.destroy() }
  }
}

async function libp2pLink (address: string): Promise<Link> {
  const host = await createHost({ peerKey: await generateKeyPair('Ed25519'), clusterKey, listen: { host: '127.0.0.1', port: 0 } })
  const stream = await host.dialProtocol(multiaddr(address), protocol)
  return { ...framed(stream), close: async () => { await host.stop() } }
}

/** Length-prefixed frames on a libp2p stream, written with send() and read from its message events. */
function framed (stream: Stream): { send: Send, listen: Listen } {
  return {
    send: data => {
      const length = varint.encode(data.byteLength)
      const frame = new Uint8Array(length.byteLength + data.byteLength)
      frame.set(length)
      frame.set(data, length.byteLength)
      stream.send(frame)
    },
    listen: onMessage => {
      const decoder = new LengthPrefixedDecoder()
      stream.addEventListener('message', (event: StreamMessageEvent) => { for (const _ of decoder.decode(event.data)) onMessage() })
    }
  }
}

function payload (): Uint8Array {
  return new Uint8Array(bytes).fill(1)
}

async function pingPong (link: Link, child: ChildProcess): Promise<{ p50: number, p90: number, cpuUs: number }> {
  const times: number[] = []
  const data = payload()
  let sentAt = 0
  let cpuBefore = 0
  const { promise, resolve } = deferred<void>()
  const cpuNow = (): number => (cpuTimeMs(process.pid) ?? 0) + (cpuTimeMs(child.pid as number) ?? 0)
  link.listen(() => {
    times.push(performance.now() - sentAt)
    if (times.length === warmup) cpuBefore = cpuNow()
    if (times.length >= warmup + roundTrips) { resolve(); return }
    sentAt = performance.now()
    link.send(data)
  })
  sentAt = performance.now()
  link.send(data)
  await promise
  const cpuUs = (cpuNow() - cpuBefore) * 1000 / roundTrips
  const measured = times.slice(warmup).sort((a, b) => a - b)
  const at = (q: number): number => (measured[Math.min(measured.length - 1, Math.floor(q * measured.length))] as number) * 1000
  return { p50: at(0.5), p90: at(0.9), cpuUs }
}
