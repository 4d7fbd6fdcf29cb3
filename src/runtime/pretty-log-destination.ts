import type { DestinationStream } from 'pino'
import { PinoPretty } from 'pino-pretty'

/**
 * Where `createLogger` writes human-readable lines with colours instead of JSON: standard error,
 * for a terminal. A module of its own, imported only when wanted, so that a process logging JSON
 * (every AppWorker) never loads pino-pretty.
 */
export function prettyLogDestination (): DestinationStream {
  return PinoPretty({ destination: 2, sync: true, colorize: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' })
}
