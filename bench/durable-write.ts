// What one durable write costs on this machine, by how it is made: the floor under a Raft Ready's
// persistence. Each way appends records of `--bytes` to a file of its own in a fresh directory,
// one write at a time, each durable before the next starts:
//   - level: galaxy's Raft log itself (`LevelRaftStorage.save`, `src/node/raft-storage.ts`), one
//     entry and the hard state in one batch with `sync: true`; LevelDB writes and syncs on libuv's
//     thread pool;
//   - fs callbacks: `fs.write` then `fs.fdatasync`, also on the thread pool;
//   - fs on the main thread: `fs.writeSync` then `fs.fdatasyncSync`, no hand-off between threads
//     (the event loop waits through the sync);
//   - the same over a region already written (the file's size does not change, so the sync has no
//     metadata to commit), as a write-ahead log in preallocated, zeroed segments would write.
// Reported: each write's time until it is durable (p50, p90), how long the call itself held the
// main thread, the CPU time of the whole process (every thread, user and system) per write, and
// writes per second. A second table runs 1, 2 and 3 processes at once, each
// appending with synced writes to its own file on the same device, as three members on one
// machine do.
//
// Usage: node --import tsx bench/durable-write.ts [--writes 3000] [--bytes 460] [--seconds 3] [--dir DIR]
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, fdatasync, fdatasyncSync, mkdtempSync, openSync, rmSync, write, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { LevelRaftStorage } from '../src/node/raft-storage.js'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    writes: { type: 'string', default: '3000' },
    bytes: { type: 'string', default: '460' },
    seconds: { type: 'string', default: '3' },
    dir: { type: 'string', default: tmpdir() }
  }
})
const writes = Number(values.writes)
const bytes = Number(values.bytes)
const seconds = Number(values.seconds)
const warmup = Math.min(300, Math.floor(writes / 10))

/** One way of making a write durable: `write(i)` returns once the call is made, and the promise once the write is durable. */
type Way = (index: number) => Promise<void>

if (positionals[0] === 'writer') await writer(positionals[1] as string)
else await main()

async function main (): Promise<void> {
  const dir = mkdtempSync(join(values.dir, 'galaxy-durable-write-'))
  try {
    console.log(`${writes.toLocaleString('en-US')} writes of ${bytes} bytes each way (after ${warmup} to warm up), node ${process.version}, in ${values.dir}`)
    console.log('| way of writing | until durable p50 | p90 | the call on the main thread | CPU (all threads) | writes/s |')
    console.log('| --- | --- | --- | --- | --- | --- |')
    const record = new Uint8Array(bytes).fill(1)

    const log = await LevelRaftStorage.open(join(dir, 'raft'))
    await report('the Raft log: `LevelRaftStorage.save`, a level batch (entry + hard state), sync', async index => {
      const entry = { term: 1, index: index + 1, type: 'normal' as const, data: record }
      await log.save({ hardState: { term: 1, vote: null, commit: index }, entries: [entry] })
    })
    await log.close()

    const callbacks = openSync(join(dir, 'callbacks'), 'w')
    await report('fs.write + fs.fdatasync (thread pool)', async () => {
      await new Promise<void>((resolve, reject) => {
        write(callbacks, record, error => {
          if (error !== null) reject(error)
          else fdatasync(callbacks, error => { if (error !== null) reject(error); else resolve() })
        })
      })
    })
    closeSync(callbacks)

    const appended = openSync(join(dir, 'main-thread'), 'w')
    await report('writeSync + fdatasyncSync, appending', async () => { writeSync(appended, record); fdatasyncSync(appended) })
    closeSync(appended)

    const region = openSync(join(dir, 'overwrite'), 'w')
    writeSync(region, new Uint8Array(bytes * (writes + warmup)))
    fdatasyncSync(region)
    await report('writeSync + fdatasyncSync, over written space', async index => { writeSync(region, record, 0, bytes, index * bytes); fdatasyncSync(region) })
    closeSync(region)

    console.log()
    console.log(`Processes at once, each appending synced writes (writeSync + fdatasyncSync) to its own file for ${seconds} s:`)
    console.log('| processes | until durable p50 (each) | writes/s (all) |')
    console.log('| --- | --- | --- |')
    for (const count of [1, 2, 3]) await together(count, dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs one way `writes` times after the warm-up, one write at a time, and prints its row. */
async function report (name: string, way: Way): Promise<void> {
  /** Until durable, µs, one per measured write. */
  const durable: number[] = []
  /** The calls' own time on the main thread, µs. */
  let heldUs = 0
  let measuredFrom = performance.now()
  let cpuFrom = process.cpuUsage()
  for (let index = 0; index < warmup + writes; index++) {
    if (index === warmup) {
      measuredFrom = performance.now()
      cpuFrom = process.cpuUsage()
    }
    const before = performance.now()
    const done = way(index)
    const called = performance.now()
    await done
    if (index < warmup) continue
    heldUs += (called - before) * 1000
    durable.push((performance.now() - before) * 1000)
  }
  const elapsedS = (performance.now() - measuredFrom) / 1000
  const cpu = process.cpuUsage(cpuFrom)
  const sorted = durable.sort((a, b) => a - b)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
  console.log(`| ${name} | ${at(0.5).toFixed(0)} µs | ${at(0.9).toFixed(0)} µs | ${(heldUs / writes).toFixed(0)} µs | ${((cpu.user + cpu.system) / writes).toFixed(0)} µs | ${Math.round(writes / elapsedS).toLocaleString('en-US')} |`)
}

/** Starts `count` writers, lets them go at once, and prints their row. */
async function together (count: number, dir: string): Promise<void> {
  const children = Array.from({ length: count }, (_, i) => fork(import.meta.filename, ['writer', join(dir, `together-${count}-${i}`), `--seconds=${seconds}`, `--bytes=${bytes}`], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
  try {
    await Promise.all(children.map(async child => await once(child, 'message')))
    const results = Promise.all(children.map(async child => (await once(child, 'message'))[0] as { writes: number, p50: number }))
    for (const child of children) child.send('go')
    const done = await results
    const p50s = done.map(result => `${result.p50.toFixed(0)}`).join(', ')
    const total = done.reduce((sum, result) => sum + result.writes, 0) / seconds
    console.log(`| ${count} | ${p50s} µs | ${Math.round(total).toLocaleString('en-US')} |`)
  } finally {
    for (const child of children) child.kill('SIGKILL')
  }
}

/** The child: waits for "go", appends synced writes to `file` for `seconds`, reports count and p50. */
async function writer (file: string): Promise<void> {
  const fd = openSync(file, 'w')
  const record = new Uint8Array(bytes).fill(1)
  process.send?.('ready')
  await once(process, 'message')
  const times: number[] = []
  const end = performance.now() + seconds * 1000
  while (performance.now() < end) {
    const before = performance.now()
    writeSync(fd, record)
    fdatasyncSync(fd)
    times.push((performance.now() - before) * 1000)
  }
  closeSync(fd)
  times.sort((a, b) => a - b)
  process.send?.({ writes: times.length, p50: times[times.length >> 1] })
  process.disconnect()
}
