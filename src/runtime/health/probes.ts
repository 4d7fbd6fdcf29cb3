import { spawn } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { connect } from 'node:net'
import { describeError } from '../../lib/errors.js'
import { killQuietly } from '../process/kill-quietly.js'

/** What a probe found: healthy, or not with a one-line reason. */
export type ProbeResult = { readonly healthy: true } | { readonly healthy: false, readonly reason: string }

/** How much of a command probe's output (stdout and stderr together) is kept: its last bytes. */
export const maxProbeOutputBytes = 4 * 1024
/** How long a reason's quote of the output's last line may be. */
export const maxReasonLineChars = 200
/** After a probe command exits, how long its output may take to drain before the probe answers without the rest. */
const outputDrainMs = 200
/** After the timeout's SIGKILL, how long to wait for the shell to be reaped before answering anyway. */
const killWaitMs = 1000

const healthy: ProbeResult = { healthy: true }

/** Connects to host:port over TCP within timeoutMs; healthy when the connection opens (and it is closed at once). Never throws. */
export async function probeTcp (target: { host: string, port: number }, timeoutMs: number): Promise<ProbeResult> {
  const where = `tcp ${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`
  return await new Promise<ProbeResult>(resolve => {
    let timer: NodeJS.Timeout | undefined
    let socket: ReturnType<typeof connect> | undefined
    const settle = (result: ProbeResult): void => {
      clearTimeout(timer)
      socket?.destroy()
      socket = undefined
      resolve(result)
    }
    try {
      // The timer covers the name lookup as well as the handshake.
      timer = setTimeout(() => { settle({ healthy: false, reason: `${where}: timed out after ${timeoutMs} ms` }) }, timeoutMs)
      socket = connect({ host: target.host, port: target.port })
      socket.once('connect', () => { settle(healthy) })
      socket.on('error', error => { settle({ healthy: false, reason: `${where}: ${connectFailure(error)}` }) })
    } catch (error) {
      // A port out of range, for one, throws before any event.
      settle({ healthy: false, reason: `${where}: ${oneLine(describeError(error))}` })
    }
  })
}

/**
 * Runs `command` with `/bin/sh -c` in cwd with env (exactly that environment: nothing of
 * galaxy's is added); healthy on exit 0; unhealthy on another exit code (the reason names it and
 * the last line of its output, at most `maxReasonLineChars`), a signal, or after timeoutMs, when
 * the whole process group is SIGKILLed: the command is spawned detached, as the leader of its
 * own group, so that what it forks dies with it. When the shell exits by itself, whatever it left
 * running in its group is SIGKILLed too: a probe leaves nothing behind (a process that left the
 * group, with setsid, is out of reach). Only the last `maxProbeOutputBytes` of output are kept.
 * Never throws.
 */
export async function probeCommand (command: string, options: { cwd: string, env: Readonly<Record<string, string>>, timeoutMs: number }): Promise<ProbeResult> {
  return await new Promise<ProbeResult>(resolve => {
    let output = Buffer.alloc(0)
    const keep = (chunk: Buffer): void => {
      output = Buffer.concat([output, chunk])
      if (output.length > maxProbeOutputBytes) output = output.subarray(output.length - maxProbeOutputBytes)
    }
    let child: ReturnType<typeof spawn>
    try {
      child = spawn('/bin/sh', ['-c', command], { cwd: options.cwd, env: { ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    } catch (error) {
      resolve({ healthy: false, reason: `cannot run the probe command: ${oneLine(describeError(error))}` })
      return
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    // A negative pid names the process group.
    const killGroup = (): void => { if (child.pid !== undefined) killQuietly(-child.pid) }

    let settled = false
    let timedOut = false
    const timers: NodeJS.Timeout[] = []
    const finish = (result: ProbeResult): void => {
      if (settled) return
      settled = true
      for (const timer of timers) clearTimeout(timer)
      child.stdout?.destroy()
      child.stderr?.destroy()
      resolve(result)
    }
    const timedOutResult: ProbeResult = { healthy: false, reason: `timed out after ${options.timeoutMs} ms` }
    timers.push(setTimeout(() => {
      timedOut = true
      killGroup()
      // Answer once the shell is reaped, so that the caller sees no process of the probe; but answer.
      timers.push(setTimeout(() => { finish(timedOutResult) }, killWaitMs))
    }, options.timeoutMs))

    child.once('error', error => {
      // The shell did not start. A missing cwd shows as `spawn /bin/sh ENOENT`, which misleads: say which.
      void stat(options.cwd).then(() => describeError(error), () => `no directory ${options.cwd}`).then(cause => {
        finish({ healthy: false, reason: `cannot run the probe command: ${oneLine(cause)}` })
      })
    })
    child.once('exit', (code, signal) => {
      // The group outlives its leader while any member lives, so its id is not reused yet.
      killGroup()
      if (timedOut) {
        finish(timedOutResult)
        return
      }
      for (const timer of timers) clearTimeout(timer)
      const result = (): ProbeResult => {
        if (code === 0) return healthy
        const status = code !== null ? `exit ${code}` : `killed by ${signal ?? 'a signal'}`
        const line = lastLine(output)
        return { healthy: false, reason: line === '' ? `${status}, no output` : `${status}: ${line}` }
      }
      // The output may still be in the pipes; 'close' says it is all read.
      timers.push(setTimeout(() => { finish(result()) }, outputDrainMs))
      child.once('close', () => { finish(result()) })
    })
  })
}

/** A connection failure in words: `connection refused` rather than `ECONNREFUSED`. */
function connectFailure (error: Error): string {
  const code = (error as NodeJS.ErrnoException).code
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused'
    case 'ECONNRESET': return 'connection reset'
    case 'EHOSTUNREACH': return 'host unreachable'
    case 'ENETUNREACH': return 'network unreachable'
    case 'ENOTFOUND': return 'no such host'
    case 'EAI_AGAIN': return 'name lookup failed, try again'
    default: return oneLine(describeError(error))
  }
}

/** The last non-blank line of `output`, cut to `maxReasonLineChars`, control characters blanked. */
function lastLine (output: Buffer): string {
  const lines = output.toString('utf8').split('\n').map(line => oneLine(line)).filter(line => line !== '')
  const line = lines.at(-1) ?? ''
  return line.length > maxReasonLineChars ? `${line.slice(0, maxReasonLineChars - 1)}…` : line
}

function oneLine (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
}
