// Log rotation with real child processes writing into the file while it rotates. Each test has
// its own dir, and kills its children when it ends.
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, closeSync, constants, existsSync, openSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import test, { type ExecutionContext } from 'ava'
import { LogFile } from '../../src/runtime/process/log-file.js'
import { killQuietly } from '../../src/runtime/process/kill-quietly.js'
import { tempDir } from '../helpers/temp-dir.js'

const lineCount = 2000
/** The longest line the writers print: `line 1999\n`. */
const maxLineBytes = 10
/**
 * Numbered lines, one write each, as fast as sh goes: 20000 of them, about 100 ms of writing (the
 * brief's 2000 are done in 10 ms, often before a rotation loop has looked once).
 */
const fastLineCount = 20_000
const fastWriter = `i=0; while [ $i -lt ${fastLineCount} ]; do echo line $i; i=$((i+1)); done`
/** Lines per burst of the paced writer. */
const burstLines = 100
/** The same lines in bursts: after each, it reports its count on fd 3 and waits for a line on stdin. */
const pacedWriter = `i=0; while [ $i -lt ${lineCount} ]; do echo line $i; i=$((i+1)); if [ $((i % ${burstLines})) -eq 0 ]; then echo $i >&3; read go || exit 9; fi; done`

type Writer = ChildProcess & { exited: Promise<number | null>, acks: AsyncIterator<string> }

/**
 * Starts `sh -c script` with stdout and stderr on `fd` (closed here once spawned), and for a paced
 * writer stdin and fd 3 as pipes; killed when the test ends.
 */
async function startWriter (t: ExecutionContext, script: string, fd: number, paced = false): Promise<Writer> {
  const child = spawn('sh', ['-c', script], { stdio: paced ? ['pipe', fd, fd, 'pipe'] : ['ignore', fd, fd] })
  t.teardown(() => { if (child.pid !== undefined) killQuietly(child.pid) })
  const exited = new Promise<number | null>(resolve => child.once('exit', resolve))
  try {
    await new Promise<void>((resolve, reject) => { child.once('spawn', resolve).once('error', reject) })
  } finally {
    closeSync(fd)
  }
  const acks = paced ? createInterface({ input: child.stdio[3] as NodeJS.ReadableStream })[Symbol.asyncIterator]() : emptyIterator()
  return Object.assign(child, { exited, acks })
}

async function * emptyIterable (): AsyncGenerator<string> {}
function emptyIterator (): AsyncIterator<string> {
  return emptyIterable()
}

/** The paced writer's next report: how many lines it has written, all of them in the file. */
async function nextAck (writer: Writer): Promise<number> {
  const next = await writer.acks.next()
  if (next.done === true) throw new Error('the writer ended without reporting')
  return Number(next.value)
}

/** The bytes of the log and of its rotated files that exist, oldest first. */
function contents (path: string, keep: number): Buffer[] {
  const files: Buffer[] = []
  for (let n = keep; n >= 1; n--) if (existsSync(`${path}.${n}`)) files.push(readFileSync(`${path}.${n}`))
  files.push(readFileSync(path))
  return files
}

/** `line from\n` … `line to-1\n`, what the writers print. */
function lines (from: number, to: number): string {
  let text = ''
  for (let i = from; i < to; i++) text += `line ${i}\n`
  return text
}

// Serial: alone, so that the rotation loop gets a core while the child writes.
test.serial('a child writing without pause through rotations: no NUL byte, lines in order, no file past keep', async t => {
  const path = join(tempDir(t), 'task.log')
  const limits = { maxBytes: 1024, keep: 3 }
  const log = new LogFile(path, limits)
  const fd = await log.openForChild()
  let rotations = 0
  let exited = false
  // The loop starts before the child, so that it rotates while the child writes; its first turn
  // starts the thread pool, which may take longer than the child runs. How many rotations
  // happen depends on the machine: each takes a dozen round trips through the thread pool.
  await log.rotateIfLarge()
  const rotating = (async () => {
    while (!exited) if (await log.rotateIfLarge()) rotations++
  })()
  const child = await startWriter(t, fastWriter, fd)
  t.is(await child.exited, 0)
  exited = true
  await rotating
  t.true(rotations >= 1, 'a rotation while the child wrote')
  await log.rotateIfLarge()
  t.true(statSync(path).size <= limits.maxBytes, 'a last look leaves the live file under maxBytes')
  t.true(existsSync(`${path}.1`))
  t.false(existsSync(`${path}.${limits.keep + 1}`), 'no file past keep')
  const files = contents(path, limits.keep)
  for (const [index, file] of files.entries()) t.is(file.indexOf(0), -1, `a NUL byte in file ${index} (oldest first)`)
  // Copytruncate may lose lines written in its window, and a rotated file may end in the first
  // part of a line (a write across a page boundary is visible half done to the copy, and the
  // truncate drops the rest), but the lines are never reordered or mangled otherwise.
  const numbers: number[] = []
  let cutLines = 0
  for (const [index, file] of files.entries()) {
    const fileLines = file.toString().split('\n')
    const last = fileLines.pop() ?? ''
    for (const line of fileLines) numbers.push(Number(/^line (\d+)$/.exec(line)?.[1]))
    if (last === '') continue
    t.true(index < files.length - 1 && /^(l|li|lin|line|line \d*)$/.test(last), `file ${index} (oldest first) ends in ${JSON.stringify(last)}`)
    cutLines++
  }
  t.true(numbers.every(number => Number.isInteger(number)), 'every line but a rotated file\'s last whole')
  t.true(numbers.every((number, index) => index === 0 || number > (numbers[index - 1] ?? Infinity)), 'numbers increase')
  const first = numbers[0] ?? 0
  const lost = (numbers.at(-1) ?? 0) - first + 1 - numbers.length
  const text = Buffer.concat(files).toString()
  t.is((await log.tail(Buffer.byteLength(text))).toString(), text, 'the tail holds all that was kept, oldest first')
  t.log(`${rotations} rotations while writing; sizes oldest first ${files.map(file => file.length).join(' ')}; kept lines ${first} to ${numbers.at(-1)}, ${lost} lost between them, ${cutLines} cut`)
})

test('a child paused between bursts: each rotation empties the file, the next burst starts it at offset 0, and .1 .. .keep hold the rest', async t => {
  const path = join(tempDir(t), 'task.log')
  const limits = { maxBytes: 1024, keep: 3 }
  /** A file under maxBytes plus one burst. */
  const boundBytes = limits.maxBytes + burstLines * maxLineBytes
  const log = new LogFile(path, limits)
  const writer = await startWriter(t, pacedWriter, await log.openForChild(), true)
  let rotations = 0
  let checkedAfterRotation = 0
  let rotatedLastTime = false
  for (let written = 0; written < lineCount;) {
    written = await nextAck(writer)
    const size = statSync(path).size
    t.true(size > 0 && size <= boundBytes, `after ${written} lines the file has ${size} bytes`)
    if (rotatedLastTime) {
      // The first burst after a rotation: without O_APPEND it would land past a hole of NULs.
      const start = readFileSync(path).subarray(0, 5).toString()
      t.is(start, 'line ', `after ${written} lines the file starts ${JSON.stringify(start)}`)
      checkedAfterRotation++
    }
    rotatedLastTime = await log.rotateIfLarge()
    if (rotatedLastTime) {
      rotations++
      t.is(statSync(path).size, 0)
      t.is(statSync(`${path}.1`).size, size, '.1 is the whole file as it was')
    }
    writer.stdin?.write('go\n')
  }
  writer.stdin?.end()
  t.is(await writer.exited, 0)
  // Two bursts fill more than maxBytes: a rotation every other burst.
  t.is(rotations, lineCount / burstLines / 2)
  t.is(checkedAfterRotation, rotations - 1)
  for (let n = 1; n <= limits.keep; n++) t.true(statSync(`${path}.${n}`).size <= boundBytes, `.${n} is bounded`)
  t.false(existsSync(`${path}.${limits.keep + 1}`), 'no file past keep')
  // Nothing was written during a rotation, so nothing is lost: the files hold one unbroken run.
  const text = Buffer.concat(contents(path, limits.keep)).toString()
  t.is(text, lines(lineCount - limits.keep * 2 * burstLines, lineCount))
  t.is((await log.tail()).toString(), text, 'the default tail holds all of it, oldest first')
  t.is((await log.tail(25)).toString(), text.slice(-25))
})

test('without O_APPEND the same rotation leaves a hole of NUL bytes (why openForChild appends)', async t => {
  const path = join(tempDir(t), 'task.log')
  const log = new LogFile(path, { maxBytes: 1024, keep: 1 })
  const writer = await startWriter(t, pacedWriter, openSync(path, 'w'), true)
  t.is(await nextAck(writer), burstLines)
  writer.stdin?.write('go\n')
  t.is(await nextAck(writer), 2 * burstLines)
  t.true(await log.rotateIfLarge())
  writer.stdin?.write('go\n')
  t.is(await nextAck(writer), 3 * burstLines)
  const holeBytes = Buffer.byteLength(lines(0, 2 * burstLines))
  const after = readFileSync(path)
  t.is(after.length, holeBytes + Buffer.byteLength(lines(2 * burstLines, 3 * burstLines)), 'the next burst was written at the old offset')
  t.true(after.subarray(0, holeBytes).equals(Buffer.alloc(holeBytes)), 'the file starts with a hole of NULs')
  t.is(after.subarray(holeBytes).toString(), lines(2 * burstLines, 3 * burstLines))
})

test('rotateIfLarge leaves a file at or under maxBytes, or no file, alone', async t => {
  const path = join(tempDir(t), 'task.log')
  const log = new LogFile(path, { maxBytes: 10, keep: 2 })
  t.false(await log.rotateIfLarge(), 'no file')
  appendFileSync(path, '0123456789')
  t.false(await log.rotateIfLarge(), 'exactly maxBytes')
  t.false(existsSync(`${path}.1`))
  appendFileSync(path, 'x')
  t.true(await log.rotateIfLarge())
  t.is(readFileSync(`${path}.1`, 'utf8'), '0123456789x')
  t.is(readFileSync(path, 'utf8'), '')
  t.false(existsSync(`${path}.1.tmp`))
})

test('rotation shifts .1 up to .keep and drops the oldest; keep 0 only truncates', async t => {
  const dir = tempDir(t)
  const log = new LogFile(join(dir, 'a.log'), { maxBytes: 1, keep: 2 })
  for (const text of ['one', 'two', 'three', 'four']) {
    appendFileSync(log.path, text)
    t.true(await log.rotateIfLarge())
  }
  t.is(readFileSync(`${log.path}.1`, 'utf8'), 'four')
  t.is(readFileSync(`${log.path}.2`, 'utf8'), 'three')
  t.false(existsSync(`${log.path}.3`))
  const none = new LogFile(join(dir, 'b.log'), { maxBytes: 1, keep: 0 })
  appendFileSync(none.path, 'gone')
  t.true(await none.rotateIfLarge())
  t.is(readFileSync(none.path, 'utf8'), '')
  t.false(existsSync(`${none.path}.1`))
})

test('tail reads the last bytes across rotated files, oldest first', async t => {
  const log = new LogFile(join(tempDir(t), 'task.log'), { maxBytes: 4, keep: 2 })
  t.deepEqual(await log.tail(), Buffer.alloc(0), 'no file yet')
  appendFileSync(log.path, 'aaaaa')
  await log.rotateIfLarge()
  appendFileSync(log.path, 'bbbbb')
  await log.rotateIfLarge()
  appendFileSync(log.path, 'ccc')
  t.is((await log.tail()).toString(), 'aaaaabbbbbccc')
  t.is((await log.tail(7)).toString(), 'bbbbccc', 'across .1 and the current file')
  t.is((await log.tail(11)).toString(), 'aaabbbbbccc', 'across all three')
  t.is((await log.tail(2)).toString(), 'cc')
  t.is((await log.tail(0)).toString(), '')
  appendFileSync(log.path, 'dd')
  await log.rotateIfLarge()
  t.is((await log.tail()).toString(), 'bbbbbcccdd', 'the oldest dropped past keep')
})

test('openForChild opens the file 0o640 in append mode, and the limits are checked', async t => {
  const log = new LogFile(join(tempDir(t), 'task.log'), { maxBytes: 100, keep: 1 })
  appendFileSync(log.path, 'kept\n')
  const fd = await log.openForChild()
  t.teardown(() => { closeSync(fd) })
  const flags = Number.parseInt(/^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8)
  t.not(flags & constants.O_APPEND, 0, `flags 0${flags.toString(8)}`)
  appendFileSync(fd, 'more\n')
  t.is(readFileSync(log.path, 'utf8'), 'kept\nmore\n', 'an existing file is kept')
  const fresh = new LogFile(join(tempDir(t), 'fresh.log'), { maxBytes: 100, keep: 1 })
  closeSync(await fresh.openForChild())
  t.is(statSync(fresh.path).mode & 0o777, 0o640)
  t.throws(() => new LogFile('x', { maxBytes: 0, keep: 1 }), { name: 'AssertionError' })
  t.throws(() => new LogFile('x', { maxBytes: 10, keep: -1 }), { name: 'AssertionError' })
  await t.throwsAsync(fresh.tail(-1), { name: 'AssertionError' })
})
