import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino'
import type { LogFields, Logger, LogLevel } from '../lib/logger.js'

/** Where and how much `createLogger` writes. */
export interface LoggerOptions {
  /** The lowest level written; `info` unless set. */
  readonly level?: LogLevel
  /**
   * Where JSON lines go; standard error unless set (standard output belongs to command results).
   * `prettyLogDestination()` writes them as human-readable lines instead.
   */
  readonly destination?: DestinationStream
  /** Fields every line carries, such as `{ node: 'seed1' }`. */
  readonly bindings?: LogFields
}

/**
 * A structured logger writing one JSON object per line through pino: `level` as a word, `time` in
 * ISO 8601, `msg`, then the bindings and fields.
 */
export function createLogger (options: LoggerOptions = {}): Logger {
  const base = pino({
    level: options.level ?? 'info',
    base: { pid: process.pid, ...options.bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: label => ({ level: label }) }
  }, options.destination ?? pino.destination({ fd: 2, sync: true }))
  return wrap(base)
}

function wrap (target: PinoLogger): Logger {
  const write = (level: LogLevel) => (message: string, fields?: LogFields): void => {
    if (fields === undefined) target[level](message)
    else target[level](fields, message)
  }
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: bindings => wrap(target.child(bindings))
  }
}
