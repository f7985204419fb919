// Attack: agent-port starvation without credentials. Thousands of TCP connections that never send a
// byte sit on the agent port (each one the server closes is reopened: a siege); a real agent that
// restarts meanwhile must attach within seconds, and requests to its node must succeed once it has.
// Before the fix (a connection took a handshake slot before sending anything, the queue behind the
// 256 slots had no bound and no deadline), the restarted agent did not attach during the siege at all.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestLab } from '../fixtures/lab.js';
import { attached, metric, msUntil, requestLoop, siege } from './fixtures/h4.js';

/** idle connections held on the agent port (the test process and the server each hold one fd per connection; ulimit -n here is 20 000) */
const N = 5_000;
/** the bound: "attaches within seconds" (before the fix: not at all within the siege) */
const ATTACH_MS = 10_000;
const AFTER_ATTACH_MS = 8_000;

const lines: string[] = [];
const lab = await startTestLab(216, lines);
t.teardown(() => lab.close());
const meta = lab.ports.meta;
const node = lab.nodes[0]!;

t.test(`${N} silent connections on the agent port: a restarted agent attaches and its node answers`, async (t) => {
  await lab.agents.get(node.name)!.stop();
  t.ok((await msUntil(async () => !(await attached(meta, node.name)), 10_000)) !== undefined, 'the agent is gone');
  const s = await siege(lab.serverHost, lab.ports.agent, N, true);
  t.teardown(() => s.stop());
  t.comment(`siege: ${s.open()} connections open on the agent port`);
  t.ok(s.open() >= N * 0.9, `the siege holds ${s.open()} of ${N} connections`);

  lab.startAgent(node);
  const attachMs = await msUntil(() => attached(meta, node.name), ATTACH_MS);
  t.comment(`attached after ${attachMs === undefined ? 'never' : Math.round(attachMs)} ms, with ${s.open()} silent connections open`);
  t.ok(attachMs !== undefined, `the restarted agent attached within ${ATTACH_MS} ms under the siege`);
  if (attachMs === undefined) return;

  const loop = requestLoop(lab.ports.http, node.ip, lab.ports.exporter);
  await sleep(AFTER_ATTACH_MS);
  await loop.stop();
  t.comment(
    `requests to ${node.name} during the siege: ${loop.ok} ok, ${loop.failed} failed; connections open ${s.open()}, closed by the server ${s.closedAfterMs.length}`,
  );
  t.ok(s.open() >= N * 0.8, `the siege still holds ${s.open()} connections (it was not lifted)`);
  t.ok(loop.ok >= 10, `${loop.ok} requests succeeded`);
  t.ok(loop.failed <= 1, `${loop.failed} requests failed`);

  const timeouts = await metric(meta, 'edge_tunnel_tls_refusals_total{listener="agent",reason="client_hello_timeout"}');
  t.ok(timeouts >= N * 0.5, `edge_tunnel_tls_refusals_total{agent,client_hello_timeout} = ${timeouts}`);
  const warns = lines.filter((l) => l.includes('connection refused before its tls handshake'));
  t.ok(warns.length >= 1 && warns.length <= 10, `${warns.length} warn lines for ${timeouts} refusals (rate-limited)`);
  s.stop();
});
