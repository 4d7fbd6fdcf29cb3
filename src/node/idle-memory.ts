import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** Named bounds of giving memory back while idle. */
export const idleMemoryLimits = {
  /** How often the process's CPU use is looked at. */
  checkEveryMs: 2_000,
  /** Below this share of one core over a check, the process is idle. */
  idleCpuShare: 0.1,
  /** Idle checks in a row before memory is given back (once per idle spell). */
  idleChecks: 2,
  /**
   * The same once the process has been busy since it last gave memory back: a node that was busy
   * a moment ago is likely to be busy again soon, and the collection makes its next busy spell
   * pay to grow the heap back (on a leader taking 9 connections of puts 20 s after a reduction:
   * about 10 % fewer puts and p99 63–97 ms, against 46–58 ms without it).
   */
  idleChecksAfterBusy: 30,
  /**
   * Busy checks after which a process that has not given memory back yet counts as busy too:
   * starting up takes fewer, while a load makes the heap large, and the thorough collection on it
   * stalls (351 and 537 ms on members that had taken 40 s of puts, just as the next load began).
   */
  busyChecksBeforeFirst: 5,
  /** Growth of V8's memory since the last reduction that earns another without a busy check. */
  regrowthBytes: 4 << 20,
  /** The least time between two reductions earned by growth alone (each costs tens of ms of CPU). */
  regrowthIntervalMs: 10_000
}

/** What the reducer needs from the process, injectable for tests. */
export interface IdleMemoryProbe {
  /** Milliseconds of CPU (user and system) the process has used so far. */
  readonly cpuMs: () => number
  /** Milliseconds on a monotonic clock. */
  readonly nowMs: () => number
  /**
   * Gives memory back: `shrink` is a thorough collection that also shrinks the young generation;
   * `collect`, one full collection, frees the garbage that light work made since.
   */
  readonly reduce: (kind: 'shrink' | 'collect') => void
  /** Bytes V8 holds now: its heap and the memory outside it that it accounts (buffers). */
  readonly heldBytes: () => number
  /** Work done for clients so far (`noteClientWork`): it only ever grows. */
  readonly clientWork: () => number
}

let clientWorkDone = 0

/**
 * Counts work done for a client: an API request served, a write applied. A process doing any is
 * not idle however little CPU it uses, and gives no memory back meanwhile: the collection stops
 * the process for as long as it runs, and on a node holding 100,000 keys it ran 140–380 ms, which
 * a client sending 20 puts a second met as a 351 ms put.
 */
export function noteClientWork (amount = 1): void {
  clientWorkDone += amount
}

/**
 * Gives memory back once the process goes idle. V8 grows its young generation (up to 16 MiB per
 * semi-space) under allocation, which a busy node needs — with 1 MiB ones garbage collection took
 * 28 % of a loaded leader's CPU, and it served about 11 % fewer puts — but it never shrinks it for
 * an idle process that Node gives no idle notifications to; and the executable lets the old
 * generation reach 256 MiB before its first full collection (scripts/build.mjs), which a process
 * that allocates a little all the time would otherwise only reach after hours. After two quiet
 * checks in a row this runs one memory-reducing collection (tens of milliseconds on an idle heap;
 * a process busy for longer than a start, `busyChecksBeforeFirst`, waits a minute for its first),
 * then not again until the process has been busy and quiet again for a minute
 * (`idleChecksAfterBusy`), or V8's memory has grown by `regrowthBytes` again (one full collection
 * then, at most every `regrowthIntervalMs`: an idle node's heartbeats grow it a little all the
 * time). Work too light to count as busy can still grow it by megabytes: a first seed that went quiet before the other
 * seeds joined it stayed 6 MiB larger than they did, which the growth rule gives back. A check in
 * which the process did work for a client (`noteClientWork`) is never quiet.
 */
export class IdleMemoryReducer {
  private lastCpuMs: number
  private lastNowMs: number
  private idleChecks = 0
  private reduced = false
  /**
   * Whether the process was busy since it last gave memory back (before the first time: for more
   * than `busyChecksBeforeFirst` checks).
   */
  private busySinceReduced = false
  private busyChecks = 0
  private everReduced = false
  private heldAfterReduce = 0
  private reducedAtMs = 0
  /** V8's memory grew back since the last reduction without the process being busy: one full collection will do. */
  private regrown = false
  private lastClientWork: number

  constructor (private readonly probe: IdleMemoryProbe = processProbe()) {
    this.lastCpuMs = probe.cpuMs()
    this.lastNowMs = probe.nowMs()
    this.lastClientWork = probe.clientWork()
  }

  /** Checks for as long as the process runs (the timer does not keep it alive). */
  start (): void {
    setInterval(() => { this.check() }, idleMemoryLimits.checkEveryMs).unref()
  }

  /** One look at the CPU used since the last; reduces when idle long enough. True when it reduced. */
  check (): boolean {
    const cpuMs = this.probe.cpuMs()
    const nowMs = this.probe.nowMs()
    const share = nowMs > this.lastNowMs ? (cpuMs - this.lastCpuMs) / (nowMs - this.lastNowMs) : 0
    const clientWork = this.probe.clientWork()
    const served = clientWork !== this.lastClientWork
    this.lastCpuMs = cpuMs
    this.lastNowMs = nowMs
    this.lastClientWork = clientWork
    if (share >= idleMemoryLimits.idleCpuShare) {
      this.idleChecks = 0
      this.reduced = false
      this.regrown = false
      this.busySinceReduced = this.everReduced || ++this.busyChecks > idleMemoryLimits.busyChecksBeforeFirst
      return false
    }
    // Light work for clients: not idle, though not busy either (the quiet spell that follows it
    // is the short one, and a reduction already made still counts).
    if (served) {
      this.idleChecks = 0
      return false
    }
    // Work too light to count as busy (a node joining, a few writes) may still grow the heap again.
    // Its garbage needs one full collection, not the thorough one (several in a row) that ends an
    // idle spell: with the executable's old-generation limit, light work grows the heap all the time.
    if (this.reduced && nowMs - this.reducedAtMs >= idleMemoryLimits.regrowthIntervalMs &&
      this.probe.heldBytes() >= this.heldAfterReduce + idleMemoryLimits.regrowthBytes) {
      this.reduced = false
      this.regrown = true
    }
    const needed = this.busySinceReduced ? idleMemoryLimits.idleChecksAfterBusy : idleMemoryLimits.idleChecks
    if (++this.idleChecks < needed || this.reduced) return false
    this.probe.reduce(this.regrown ? 'collect' : 'shrink')
    this.regrown = false
    this.reduced = true
    this.everReduced = true
    this.busySinceReduced = false
    this.heldAfterReduce = this.probe.heldBytes()
    this.reducedAtMs = nowMs
    // The collection's own CPU is not the process being busy.
    this.lastCpuMs = this.probe.cpuMs()
    return true
  }
}

/**
 * Gives this process's memory back whenever it goes idle, for as long as it runs (the timer does
 * not keep it alive). Every galaxy process starts it first thing, whatever its command.
 */
export function giveMemoryBackWhenIdle (): void {
  new IdleMemoryReducer().start()
}

/** The real process: its CPU use and V8's memory-reducing collection. */
export function processProbe (): IdleMemoryProbe {
  let collect: ((options: object) => void) | undefined
  return {
    cpuMs: () => { const usage = process.cpuUsage(); return (usage.user + usage.system) / 1000 },
    clientWork: () => clientWorkDone,
    nowMs: () => performance.now(),
    heldBytes: () => {
      const memory = process.memoryUsage()
      return memory.heapTotal + memory.external
    },
    reduce: kind => {
      if (collect === undefined) {
        // gc() is only given to contexts made after the flag is set; the main context stays as it was.
        setFlagsFromString('--expose-gc')
        collect = runInNewContext('gc') as (options: object) => void
      }
      // "last-resort" is V8's memory-reducing flavour: it also shrinks the young generation.
      collect(kind === 'shrink' ? { type: 'major', execution: 'sync', flavor: 'last-resort' } : { type: 'major', execution: 'sync' })
    }
  }
}
