/**
 * pino, JSON lines on stdout (pipe them through `pino-pretty` to read them as a human). Every
 * component gets a child logger with its name, and SIP events carry the Call-ID.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { app: 'kadsip' }, timestamp: pino.stdTimeFunctions.isoTime }, destination ?? process.stdout);
}

/** A pino logger that logs nothing, for a node started from code without one (it still hands out children). */
export function silentPinoLogger(): Logger {
  return pino({ level: 'silent' });
}
