// Attack: connections to the HTTPS proxy (:10263) that never start TLS. Node's TLS server keeps such
// a connection for its default handshake timeout (120 s; server RSS 125 → 334 MB under 5 000), while
// :10264 and CONNECT close theirs after ~11 s. Now each must be closed within a few seconds (no
// ClientHello within --client-hello-timeout-ms), counted on /metrics, and a real caller must get its
// answer meanwhile. One source address may hold only --https-max-pending-per-source of them.
// Before the fix none of the 5 000 was closed within the 15 s this test waits.
import t from 'tap';
import { startTestLab, sh } from '../fixtures/lab.js';
import { metric, msUntil, siege } from './fixtures/h4.js';

const N = 5_000;
/** closed within this (before the fix: Node's 120 s; now --client-hello-timeout-ms, 5 s by default) */
const CLOSED_MS = 15_000;
/** the siege comes from 20 addresses, under the per-source cap (256 by default) */
const SOURCES = Array.from({ length: 20 }, (_, i) => `127.0.217.${10 + i}`);

const lines: string[] = [];
const lab = await startTestLab(217, lines);
t.teardown(() => lab.close());
const meta = lab.ports.meta;
const caller = lab.commands
  .find((c) => c.command.includes('--cert') && c.command.includes('/stats/summary'))!
  .command.replace('curl -s', "curl -s -o /dev/null -w '%{http_code}' --max-time 5");
const rss = (): Promise<number> => metric(meta, 'edge_tunnel_server_process_resident_memory_bytes');

t.test(`${N} connections to :10263 that never start TLS are closed within seconds; callers are served`, async (t) => {
  const rssBefore = await rss();
  const s = await siege(lab.serverHost, lab.ports.https, N, false, SOURCES);
  t.teardown(() => s.stop());
  t.ok(s.open() + s.closedAfterMs.length >= N * 0.9, `${s.open()} open, ${s.closedAfterMs.length} already closed`);
  const during = await sh(caller);
  t.equal(during.stdout, '200', 'an HTTPS caller gets its answer during the siege');
  const rssDuring = await rss();
  const closedMs = await msUntil(async () => s.open() === 0, CLOSED_MS);
  const sorted = [...s.closedAfterMs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  t.comment(
    `closed by the server: ${s.closedAfterMs.length} of ${N}, median after ${Math.round(median)} ms; all closed ${closedMs === undefined ? 'not' : `after ${Math.round(closedMs)} ms`}; RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssDuring / 2 ** 20).toFixed(0)} MiB`,
  );
  t.ok(s.closedAfterMs.length >= N * 0.9, `${s.closedAfterMs.length} of ${N} closed by the server within ${CLOSED_MS} ms`);
  t.ok(median < CLOSED_MS, `median time to close ${Math.round(median)} ms`);
  const refused = await metric(meta, 'edge_tunnel_tls_refusals_total{listener="https",reason="client_hello_timeout"}');
  t.ok(refused >= N * 0.9, `edge_tunnel_tls_refusals_total{https,client_hello_timeout} = ${refused}`);
  const warns = lines.filter((l) => l.includes('connection refused before its tls handshake') && l.includes('https'));
  t.ok(warns.length >= 1 && warns.length <= 5, `${warns.length} warn lines for ${refused} refusals (rate-limited)`);
  s.stop();
});

t.test('one source address holds at most its cap of pending connections; other callers are served', async (t) => {
  const s = await siege(lab.serverHost, lab.ports.https, 1_000, false, ['127.0.217.200']);
  t.teardown(() => s.stop());
  await msUntil(async () => s.open() <= 256, 5_000);
  t.ok(s.open() <= 256, `${s.open()} of 1000 connections from one address still open (cap 256)`);
  const capped = await metric(meta, 'edge_tunnel_tls_refusals_total{listener="https",reason="source_cap"}');
  t.ok(capped >= 700, `edge_tunnel_tls_refusals_total{https,source_cap} = ${capped}`);
  t.equal((await sh(caller)).stdout, '200', 'a caller from another address gets its answer');
  s.stop();
});
