// The logger the server takes by injection: a pino logger (child loggers per component).
import { pino } from 'pino';
import type { DestinationStream, Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** Lines are written to stdout once this many bytes wait, */
export const LOG_BATCH_BYTES = 8 * 1024;
/** or this many ms after the first of them, whichever comes first; */
export const LOG_FLUSH_MS = 20;
/** a line at this level or above (warn) is written at once, with what waits before it. */
export const LOG_FLUSH_LEVEL = 40;

/** pino's serialized lines start with their level. */
const LEVEL_OF_LINE = /^\{"level":(\d+)/;

/**
 * The process logger of main.ts: JSON lines on stdout, written in batches. An audit line per stream
 * written on its own cost the server a write to stdout and a wake-up of the thread that does it per
 * stream, ~10 % of its CPU under churn (perf/findings/2026-12-07-per-stream-cost.md); batched, a busy
 * server writes once per LOG_BATCH_BYTES and a quiet one holds a line at most LOG_FLUSH_MS; a warn line
 * (what an operator must act on, a refused caller) is not held. What waits
 * is written when the process exits (pino flushes its destination on exit, also after a crash).
 */
export function createLogger(level: string): Logger {
  return pino({ level, base: { component: 'server' } }, batchedStdout());
}

function batchedStdout(): DestinationStream {
  const dest = pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES });
  // sonic-boom skips a flush asked for while a write is in flight and then keeps what is left (less
  // than minLength) until the next one: count the bytes still waiting and redo the flush on 'drain'
  let waiting = 0;
  let due = false;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    due = true;
    try {
      dest.flush();
    } catch {
      // stdout is gone (EPIPE, destroyed): nothing more can be written, and logging must not throw
    }
  };
  dest.on('write', (n: number) => {
    waiting -= n;
    if (waiting <= 0) due = false;
  });
  dest.on('drain', () => {
    if (due && waiting > 0) flush();
  });
  return {
    write(line: string): void {
      waiting += Buffer.byteLength(line);
      dest.write(line);
      if (Number(LEVEL_OF_LINE.exec(line)?.[1] ?? 0) >= LOG_FLUSH_LEVEL) return flush();
      timer ??= setTimeout(flush, LOG_FLUSH_MS).unref();
    },
  };
}
