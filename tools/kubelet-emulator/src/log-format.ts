/**
 * Container log files use the CRI format the kubelet reads from /var/log/pods:
 * `<RFC 3339 time> <stdout|stderr> <F|P> <content>\n` (F = full line, P = partial line).
 */

/** The stream a log line came from. */
export type LogStream = 'stdout' | 'stderr';

export interface LogEntry {
  /** RFC 3339 time as written in the file ('' for a line not in CRI format). */
  time: string;
  stream: LogStream;
  /** A partial line ('P' tag): its content continues in the next entry, no newline. */
  partial: boolean;
  content: string;
}

export interface LogQuery {
  follow: boolean;
  timestamps: boolean;
  tailLines: number | undefined;
  sinceSeconds: number | undefined;
  limitBytes: number | undefined;
}

export function encodeEntry(time: Date, stream: LogStream, content: string): string {
  return `${time.toISOString()} ${stream} F ${content}\n`;
}

/** Parses one line of a CRI log file (without its newline). Lines not in CRI format pass as content. */
export function parseEntry(line: string): LogEntry {
  const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/s.exec(line);
  if (!m) return { time: '', stream: 'stdout', partial: false, content: line };
  return { time: m[1]!, stream: m[2] as LogStream, partial: m[3] === 'P', content: m[4]! };
}

/** What the kubelet sends for one entry. */
export function formatEntry(entry: LogEntry, timestamps: boolean): string {
  const prefix = timestamps && entry.time ? `${entry.time} ` : '';
  return `${prefix}${entry.content}${entry.partial ? '' : '\n'}`;
}

/** Applies sinceSeconds then tailLines to the entries already in the file. */
export function selectInitial(entries: LogEntry[], query: LogQuery, now: number): LogEntry[] {
  let selected = entries;
  if (query.sinceSeconds !== undefined) selected = selected.filter((e) => isSince(e, query, now));
  if (query.tailLines !== undefined) {
    selected = query.tailLines === 0 ? [] : selected.slice(-query.tailLines);
  }
  return selected;
}

/** True when an entry is recent enough for the query (entries without a time always pass). */
export function isSince(entry: LogEntry, query: LogQuery, now: number): boolean {
  if (query.sinceSeconds === undefined || !entry.time) return true;
  const t = Date.parse(entry.time);
  return Number.isNaN(t) || t >= now - query.sinceSeconds * 1000;
}

/** Reads the kubelet's log query parameters; returns the 400 sentence for a bad one. */
export function parseLogQuery(params: URLSearchParams): LogQuery | string {
  const query: LogQuery = {
    follow: params.get('follow') === 'true',
    timestamps: params.get('timestamps') === 'true',
    tailLines: undefined,
    sinceSeconds: undefined,
    limitBytes: undefined,
  };
  for (const [name, min] of [
    ['tailLines', 0],
    ['sinceSeconds', 1],
    ['limitBytes', 1],
  ] as const) {
    const raw = params.get(name);
    if (raw === null || raw === '') continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) return `${name} must be an integer >= ${min}, got "${raw}"`;
    query[name] = value;
  }
  return query;
}
