/** Values attached to a log line, kept apart from its static message. */
export type LogFields = Readonly<Record<string, unknown>>

/** How serious a log line is, lowest first. */
export const logLevels = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = typeof logLevels[number]

/**
 * A structured logger. Messages are static lower-case phrases (`'vote granted'`); values go in
 * `fields`. `child` returns a logger whose lines all carry `bindings`, typically
 * `{ component: 'raft' }`. Production uses `runtime/logger` (JSON lines through pino).
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  error(message: string, fields?: LogFields): void
  child(bindings: LogFields): Logger
}

/** One line kept by a `MemoryLogger`. */
export interface LogRecord {
  readonly level: LogLevel
  readonly message: string
  readonly fields: LogFields
}

/** A logger that keeps its lines in an array, for tests and simulations to inspect. */
export class MemoryLogger implements Logger {
  constructor (readonly records: LogRecord[] = [], private readonly bindings: LogFields = {}) {}

  debug (message: string, fields?: LogFields): void { this.write('debug', message, fields) }
  info (message: string, fields?: LogFields): void { this.write('info', message, fields) }
  warn (message: string, fields?: LogFields): void { this.write('warn', message, fields) }
  error (message: string, fields?: LogFields): void { this.write('error', message, fields) }

  child (bindings: LogFields): Logger {
    return new MemoryLogger(this.records, { ...this.bindings, ...bindings })
  }

  private write (level: LogLevel, message: string, fields: LogFields = {}): void {
    this.records.push({ level, message, fields: { ...this.bindings, ...fields } })
  }
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug () {},
  info () {},
  warn () {},
  error () {},
  child () { return silentLogger }
}
