import type { LogRecord } from '../../src/lib/logger.js'
import { MemoryStorage } from '../../src/raft/storage.js'
import type { ConfChange, Entry, Message } from '../../src/raft/types.js'
import { bytes, encodeAppliedLog, id, TestCluster, text } from './cluster.js'

/** One step of a scenario script: a command and the output it is expected to print. */
export interface ScenarioBlock {
  readonly command: string
  readonly expected: string
  /** Comment lines that precede the command, kept on rewrite. */
  readonly comments: readonly string[]
}

/**
 * Parses a script: `# comments`, then a command line, a `----` line and the expected output,
 * ended by a blank line (etcd-raft's datadriven format).
 */
export function parseScenario (source: string): ScenarioBlock[] {
  const blocks: ScenarioBlock[] = []
  const lines = source.split('\n')
  let comments: string[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    if (line.trim() === '') continue
    if (line.startsWith('#')) {
      comments.push(line)
      continue
    }
    if (lines[i + 1] !== '----') throw new Error(`line ${i + 2}: expected ---- after "${line}"`)
    const expected: string[] = []
    let j = i + 2
    while (j < lines.length && lines[j] !== '') expected.push(lines[j++] as string)
    blocks.push({ command: line, expected: expected.join('\n'), comments })
    comments = []
    i = j
  }
  return blocks
}

/** Prints blocks back as a script, with `outputs` in place of the expected text. */
export function formatScenario (blocks: readonly ScenarioBlock[], outputs: readonly string[]): string {
  return blocks.map((block, i) => [...block.comments, block.command, '----', outputs[i] === '' ? 'ok' : outputs[i]].join('\n')).join('\n\n') + '\n'
}

/** Runs a script's commands in order against one test cluster and returns each command's output. */
export function runScenario (blocks: readonly ScenarioBlock[]): string[] {
  const runner = new ScenarioRunner()
  return blocks.map(block => runner.run(block.command))
}

class ScenarioRunner {
  private cluster: TestCluster | undefined
  /** How many lines of each node's log (per incarnation) were printed already. */
  private readonly printedLogs = new WeakMap<LogRecord[], number>()
  private out: string[] = []

  run (commandLine: string): string {
    this.out = []
    const [command, ...rest] = commandLine.trim().split(/\s+/) as [string, ...string[]]
    const args = rest.filter(arg => !arg.includes('='))
    const options = Object.fromEntries(rest.filter(arg => arg.includes('=')).map(arg => arg.split('=') as [string, string]))
    this.execute(command, args, options)
    this.flushLogs()
    return this.out.join('\n')
  }

  private get c (): TestCluster {
    if (this.cluster === undefined) throw new Error('add-nodes first')
    return this.cluster
  }

  private execute (command: string, args: string[], options: Record<string, string>): void {
    const nodes = args.map(arg => id(arg))
    switch (command) {
      case 'add-nodes':
        this.cluster = new TestCluster(Number(args[0]), {
          preVote: options.prevote !== 'false',
          checkQuorum: options.checkquorum !== 'false',
          ...(options['max-size'] !== undefined ? { maxSizePerMsgBytes: Number(options['max-size']) } : {}),
          ...(options['chunk'] !== undefined ? { snapshotChunkBytes: Number(options['chunk']) } : {})
        })
        this.c.stabilize()
        // Setting up prints nothing: mark every line so far as printed.
        for (const member of this.c.nodes.values()) this.printedLogs.set(member.logs, member.logs.length)
        return
      case 'add-node':
        // A brand-new node with an empty log, to be added as a learner.
        this.c.addNode(nodes[0] as never, new MemoryStorage())
        return
      case 'campaign': return this.c.get(args[0] as string).node.campaign()
      case 'tick': {
        const times = Number(options.times ?? '1')
        for (const n of args) this.c.tick(n, times)
        return
      }
      case 'stabilize': return this.stabilize()
      case 'process-ready':
        for (const n of args) this.printReady(n)
        return
      case 'deliver':
        this.deliver(args[0])
        return
      case 'drop': {
        const dropped = this.c.queue.filter(m => args.length === 0 || m.to === id(args[0] as string))
        this.c.queue = this.c.queue.filter(m => !dropped.includes(m))
        for (const message of dropped) this.out.push(`dropped ${formatMessage(message)}`)
        return
      }
      case 'propose': return this.accept(this.c.get(args[0] as string).node.propose(bytes(args[1] ?? '')))
      case 'propose-conf-change': return this.accept(this.c.get(args[0] as string).node.proposeConfChange(parseChange(options)))
      case 'read-index': return this.accept(this.c.get(args[0] as string).node.readIndex(args[1] as string))
      case 'transfer-leadership': return this.accept(this.c.get(options.from as string).node.transferLeadership(id(options.to as string)))
      case 'isolate': return this.c.isolate(args[0] as string)
      case 'cut':
        for (const pair of args) this.c.cut.add(pair)
        return
      case 'heal': return this.c.heal()
      case 'restart':
        this.c.restart(args[0] as string)
        return
      case 'compact': {
        // Snapshot the node's state machine at its applied index and drop the log before `keep` entries.
        const member = this.c.get(args[0] as string)
        const { applied } = member.node.status()
        member.storage.createSnapshot(applied, member.conf, encodeAppliedLog(member.applied))
        member.storage.compact(applied - Number(options.keep ?? '0'))
        this.out.push(`${member.id}: snapshot at ${applied}, log now ${member.storage.firstIndex()}..${member.storage.lastIndex()}`)
        return
      }
      case 'status':
        for (const member of args.length === 0 ? [...this.c.nodes.values()] : args.map(n => this.c.get(n))) {
          const s = member.node.status()
          this.out.push(`${s.id}: ${s.role} term=${s.term} leader=${s.leader ?? '-'} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} voters=${s.conf.voters.join(',')} learners=${s.conf.learners.join(',') || '-'}`)
        }
        return
      case 'log': {
        const member = this.c.get(args[0] as string)
        const first = member.storage.firstIndex()
        const last = member.storage.lastIndex()
        this.out.push(`${member.id}: log ${first}..${last}${last >= first ? ' ' + member.storage.entries(first, last + 1, Infinity).map(formatEntry).join(' ') : ''}`)
        return
      }
      case 'applied':
        for (const n of args) this.out.push(`${n}: applied ${this.c.get(n).applied.map(e => formatEntry(e)).join(' ') || '-'}`)
        return
      case 'read-states':
        for (const n of args) this.out.push(`${n}: read states ${this.c.get(n).readStates.map(r => `${r.context}@${r.index}`).join(' ') || '-'}`)
        return
      default:
        throw new Error(`unknown scenario command "${command}"`)
    }
  }

  private accept (result: { ok: boolean, reason?: string }): void {
    if (!result.ok) this.out.push(`refused: ${result.reason}`)
  }

  /** Processes Readies and delivers messages until nothing moves, printing each delivery. */
  private stabilize (): void {
    for (let round = 0; round < 200; round++) {
      let moved = false
      for (const n of this.c.nodes.keys()) if (this.c.processReady(n) !== undefined) moved = true
      this.flushLogs()
      if (this.deliver() > 0) moved = true
      if (!moved) return
    }
    throw new Error('did not stabilize')
  }

  /** Delivers the queued messages (to `to`, or to all), printing each followed by what it made its receiver log. */
  private deliver (to?: string): number {
    const target = to === undefined ? undefined : id(to)
    const now = this.c.queue.filter(message => target === undefined || message.to === target)
    this.c.queue = this.c.queue.filter(message => !now.includes(message))
    for (const message of now) {
      this.out.push(formatMessage(message))
      this.c.nodes.get(message.to)?.node.step(message)
      this.flushLogs()
    }
    return now.length
  }

  private printReady (n: string): void {
    const ready = this.c.processReady(n)
    this.flushLogs()
    if (ready === undefined) {
      this.out.push(`${n}: nothing ready`)
      return
    }
    const parts: string[] = [`${n}: ready`]
    if (ready.softState !== undefined) parts.push(`role=${ready.softState.role} leader=${ready.softState.leader ?? '-'}`)
    if (ready.hardState !== undefined) parts.push(`hard=${ready.hardState.term}/${ready.hardState.vote ?? '-'}/${ready.hardState.commit}`)
    if (ready.snapshot !== undefined) parts.push(`snapshot=${ready.snapshot.metadata.index}/${ready.snapshot.metadata.term}`)
    if (ready.entries.length > 0) parts.push(`entries=[${ready.entries.map(formatEntry).join(' ')}]`)
    if (ready.committedEntries.length > 0) parts.push(`apply=[${ready.committedEntries.map(formatEntry).join(' ')}]`)
    if (ready.readStates.length > 0) parts.push(`reads=[${ready.readStates.map(r => `${r.context}@${r.index}`).join(' ')}]`)
    if (ready.mustSync) parts.push('sync')
    this.out.push(parts.join(' '))
    for (const message of ready.earlyMessages) this.out.push(`  sends early ${formatMessage(message)}`)
    for (const message of ready.messages) this.out.push(`  sends ${formatMessage(message)}`)
  }

  /** Prints the log lines nodes wrote since the last flush (info and above). */
  private flushLogs (): void {
    if (this.cluster === undefined) return
    for (const member of this.cluster.nodes.values()) {
      const from = this.printedLogs.get(member.logs) ?? 0
      const fresh = member.logs.slice(from).filter(record => record.level !== 'debug')
      this.printedLogs.set(member.logs, member.logs.length)
      for (const record of fresh) this.out.push(formatLog(record))
    }
  }
}

function parseChange (options: Record<string, string>): ConfChange {
  if (options['add-learner'] !== undefined) return { type: 'addLearner', node: id(options['add-learner']) }
  if (options['add-voter'] !== undefined) return { type: 'addVoter', node: id(options['add-voter']) }
  if (options.remove !== undefined) return { type: 'removeNode', node: id(options.remove) }
  throw new Error('propose-conf-change needs add-learner=, add-voter= or remove=')
}

function formatEntry (entry: Entry): string {
  const body = entry.type === 'normal' ? JSON.stringify(text(entry.data)) : `${entry.change.type}(${entry.change.node})`
  return `${entry.term}/${entry.index}:${body}`
}

function formatLog (record: LogRecord): string {
  const { node, ...fields } = record.fields as Record<string, unknown>
  const values = Object.entries(fields).map(([key, value]) => `${key}=${value === null ? '-' : String(value)}`).join(' ')
  return `${String(node)}: ${record.message}${values === '' ? '' : ` ${values}`}`
}

/** One line per message, compact enough to read a whole exchange. */
export function formatMessage (m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`
  switch (m.type) {
    case 'append': return `${head} prev=${m.logTerm}/${m.index} commit=${m.commit}${m.entries.length > 0 ? ` [${m.entries.map(formatEntry).join(' ')}]` : ''}${m.quiet === true ? ' quiet' : ''}${m.durable !== undefined ? ` durable=${m.durable}` : ''}`
    case 'appendResponse': return m.reject ? `${head} reject index=${m.index} hint=${m.logTerm}/${m.rejectHint}` : `${head} index=${m.index}`
    case 'heartbeat': return `${head} commit=${m.commit}${m.context !== 0 ? ` read=${m.context}` : ''}`
    case 'heartbeatResponse': return `${head}${m.context !== 0 ? ` read=${m.context}` : ''}`
    case 'vote':
    case 'preVote': return `${head} last=${m.logTerm}/${m.index}${m.transfer ? ' transfer' : ''}`
    case 'voteResponse':
    case 'preVoteResponse': return `${head} ${m.reject ? 'rejected' : 'granted'}`
    case 'snapshot': return `${head} at=${m.metadata.term}/${m.metadata.index} bytes=${m.offset}+${m.chunk.byteLength}/${m.totalBytes}`
    case 'snapshotResponse': return `${head} at=${m.index} have=${m.offset}${m.reject ? ' reject' : ''}`
    case 'propose': return `${head} [${m.entries.map(e => e.type === 'normal' ? JSON.stringify(text(e.data)) : `${e.change.type}(${e.change.node})`).join(' ')}]`
    case 'readIndex': return `${head} ctx=${m.context}`
    case 'readIndexResponse': return `${head} index=${m.index} ctx=${m.context}`
    case 'timeoutNow': return head
  }
}
