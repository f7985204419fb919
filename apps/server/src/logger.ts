// The logger the server takes by injection: a pino logger (child loggers per component).
import { pino } from 'pino';
import type { Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** The process logger of main.ts: JSON lines on stdout. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { component: 'server' } });
}
