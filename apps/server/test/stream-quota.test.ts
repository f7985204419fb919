// The stream quotas' books (src/proxy/stream-quota.ts): shares of the node cap for unauthenticated
// callers together, one source address, one identity and one listener; what each refusal answers
// and logs (quota-refusals.ts, rate-limited); the flags that set them.
import t from 'tap';
import { pino } from 'pino';
import { Counter, Registry } from 'prom-client';
import { parseConfig } from '../src/config.js';
import { QuotaReporter, quotaFailure } from '../src/proxy/quota-refusals.js';
import { DEFAULT_STREAM_QUOTAS, StreamBooks, shareOf, type StreamClaim, type StreamQuotaLimits } from '../src/proxy/stream-quota.js';
import { LogCapture } from './fixtures/harness.js';

const limits = (over: Partial<StreamQuotaLimits> = {}): StreamQuotaLimits => ({ ...DEFAULT_STREAM_QUOTAS, maxStreamsPerNode: 40, ...over });
const anon = (caller: string, listener: StreamClaim['listener'] = 'http', nodeName = 'edge-a'): StreamClaim => ({
  nodeName,
  listener,
  authenticated: false,
  caller,
});
const apiserver: StreamClaim = { nodeName: 'edge-a', listener: 'https', authenticated: true, caller: 'cn:kube-apiserver-kubelet-client' };

/** Acquires `claim` until refused; how many were admitted and the refusal. */
function fill(books: StreamBooks, claim: StreamClaim, l: StreamQuotaLimits, max = 1_000): { admitted: number; refusal: ReturnType<StreamBooks['acquire']> } {
  for (let admitted = 0; admitted < max; admitted++) {
    const refusal = books.acquire(claim, l);
    if (refusal) return { admitted, refusal };
  }
  return { admitted: max, refusal: undefined };
}

t.test('shares: a percentage of the cap, rounded down, at least 1 unless 0', async (t) => {
  t.equal(shareOf(1024, 50), 512);
  t.equal(shareOf(40, 25), 10);
  t.equal(shareOf(2, 25), 1, 'a small cap still admits one');
  t.equal(shareOf(1024, 0), 0, '0: none at all');
  t.equal(shareOf(7, 100), 7);
});

t.test('one source address stops at its share; others go on until the unauthenticated share is full', async (t) => {
  const books = new StreamBooks();
  const one = fill(books, anon('10.0.0.1'), limits());
  t.equal(one.admitted, 10, '25 % of 40');
  t.match(one.refusal, { quota: 'source', open: 10, limit: 10 });
  t.equal(fill(books, anon('10.0.0.2'), limits()).admitted, 10);
  const third = fill(books, anon('10.0.0.3', 'connect'), limits());
  t.equal(third.admitted, 0, 'CONNECT callers share the same unauthenticated share');
  t.match(third.refusal, { quota: 'unauthenticated', open: 20, limit: 20 });
  t.equal(books.open('edge-a'), 20);
});

t.test('authenticated callers keep the reserved half, then hit the node cap', async (t) => {
  const books = new StreamBooks();
  for (let i = 0; i < 10; i++) fill(books, anon(`10.0.1.${i}`), limits());
  t.equal(books.open('edge-a'), 20, 'unauthenticated callers hold their 50 %');
  const api = fill(books, apiserver, limits());
  t.equal(api.admitted, 20, 'kube-apiserver gets the other 20');
  t.match(api.refusal, { quota: 'node', open: 40, limit: 40 });
  t.equal(fill(books, anon('10.0.9.9'), limits()).refusal?.quota, 'node', 'the cap is checked first');
  t.equal(fill(new StreamBooks(), apiserver, limits()).admitted, 40, 'on an idle node an authenticated caller may use the whole cap');
});

t.test('per identity, per listener, and the share 0', async (t) => {
  const books = new StreamBooks();
  const capped = limits({ callerShare: 50 });
  t.match(fill(books, apiserver, capped), { admitted: 20, refusal: { quota: 'caller', limit: 20 } });
  t.equal(fill(books, { ...apiserver, caller: 'cn:metrics-server' }, capped).admitted, 20, 'another identity has its own share');
  const byListener = new StreamBooks();
  const l = limits({ listenerShare: { connect: 10 }, sourceShare: 100 });
  t.match(fill(byListener, anon('10.0.0.1', 'connect'), l), { admitted: 4, refusal: { quota: 'listener', limit: 4 } });
  t.equal(fill(byListener, anon('10.0.0.1', 'http'), l).admitted, 16, "the HTTP listener is not held back by CONNECT's share");
  t.match(fill(new StreamBooks(), anon('10.0.0.1'), limits({ unauthenticatedShare: 0 })), { admitted: 0, refusal: { quota: 'unauthenticated', limit: 0 } });
});

t.test('release gives the place back to the same quotas; nodes are counted apart', async (t) => {
  const books = new StreamBooks();
  const c = anon('10.0.0.1');
  fill(books, c, limits());
  t.equal(books.acquire(c, limits())?.quota, 'source');
  t.equal(books.acquire(anon('10.0.0.1', 'http', 'edge-b'), limits()), undefined, 'the same address to another node');
  books.release(c);
  t.equal(books.open('edge-a'), 9);
  t.equal(books.acquire(c, limits()), undefined, 'admitted again after one left');
  for (let i = 0; i < 10; i++) books.release(c);
  t.equal(books.open('edge-a'), 0);
  t.equal(fill(books, c, limits()).admitted, 10, 'nothing left over');
});

t.test('refusals: 429 STREAM_QUOTA / 503 STREAM_LIMIT with Retry-After; one warn line per listener and quota per window', async (t) => {
  const source = quotaFailure(anon('10.0.0.1'), { quota: 'source', open: 10, limit: 10 }, 'edge node edge-a (127.0.0.1:10255)');
  t.match(source, {
    status: 429,
    reason: 'STREAM_QUOTA',
    retryAfterS: 1,
    message: /10\.0\.0\.1 already holds 10 streams to this node \(source quota 10, --source-stream-share\)/,
  });
  t.match(quotaFailure(apiserver, { quota: 'node', open: 40, limit: 40 }, 'x'), { status: 503, reason: 'STREAM_LIMIT', retryAfterS: 1 });
  const logs = new LogCapture();
  const registry = new Registry();
  const counter = new Counter({ name: 'r', help: 'r', labelNames: ['listener', 'quota'], registers: [registry] });
  let now = 0;
  const reporter = new QuotaReporter(counter, 10_000, () => now);
  const log = pino({ level: 'info' }, logs.stream);
  for (let i = 0; i < 50; i++) reporter.refused(log, anon('10.0.0.1'), { quota: 'unauthenticated', open: 20, limit: 20 }, limits());
  reporter.refused(log, anon('10.0.0.1', 'connect'), { quota: 'unauthenticated', open: 20, limit: 20 }, limits());
  now = 10_001;
  reporter.refused(log, anon('10.0.0.1'), { quota: 'unauthenticated', open: 20, limit: 20 }, limits());
  const warns = logs.lines.filter((l) => l['msg'] === 'stream refused: unauthenticated stream quota');
  t.equal(warns.length, 3, '50 http refusals in one window: one line; connect has its own; the next window another');
  t.match(warns[0], {
    level: 40,
    listener: 'http',
    nodeName: 'edge-a',
    quota: 'unauthenticated',
    flag: '--unauthenticated-stream-share',
    hint: /raise --unauthenticated-stream-share \(now 50% of --max-streams-per-node 40 = 20\)/,
  });
  t.match(warns[2], { suppressed: 49 });
  t.match(await registry.metrics(), /r\{listener="http",quota="unauthenticated"\} 51/);
});

t.test('flags: defaults, values, bad values named', async (t) => {
  const base = ['--cert', 'c', '--key', 'k', '--agent-ca', 'a', '--caller-ca', 'ca'];
  const cfg = (args: string[], env = {}) => {
    const r = parseConfig([...base, ...args], env);
    if (r.help) throw new Error('help');
    return r.config;
  };
  t.match(cfg([]), { unauthenticatedStreamShare: 50, sourceStreamShare: 25, callerStreamShare: 100, listenerStreamShare: {}, connectRequireCert: false });
  t.match(
    cfg(['--unauthenticated-stream-share', '0', '--listener-stream-share', 'http=30,connect=20', '--listener-stream-share=https=90'], {
      EDGE_TUNNEL_SOURCE_STREAM_SHARE: '5',
    }),
    { unauthenticatedStreamShare: 0, sourceStreamShare: 5, listenerStreamShare: { http: 30, connect: 20, https: 90 } },
  );
  t.throws(() => cfg(['--unauthenticated-stream-share', '101']), /--unauthenticated-stream-share .* from 0 to 100/);
  t.throws(() => cfg(['--source-stream-share', '0']), /--source-stream-share .* from 1 to 100/);
  t.throws(() => cfg(['--listener-stream-share', 'meta=5']), /<listener>=<percent> with listener https, http, connect/);
  t.throws(() => cfg(['--connect-require-cert']), /--connect-require-cert needs --connect-addr and --caller-ca/);
  t.match(cfg(['--connect-addr', ':8131', '--connect-require-cert', '--connect-uds', '/run/x.sock']), { connectRequireCert: true, connectUds: '/run/x.sock' });
});
