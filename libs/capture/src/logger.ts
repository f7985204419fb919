// The logger this lib takes by injection: a pino logger (or a child of one) satisfies it.

type LogFn = (obj: Record<string, unknown>, msg: string) => void;

export interface CaptureLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}
