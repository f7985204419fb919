// Faults with real processes: an agent SIGKILLed mid-transfer must end every affected caller
// connection with an error within 1 s while the other node's transfer goes on, and the server must
// free all state of the dead session.
import t from 'tap';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect as netConnect } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestLab } from './fixtures/lab.js';

const lines: string[] = [];
// Faults on the path without resumption (`--resume-grace-ms 0`): a lost agent connection ends its
// streams at once. With resumption on (the default) a killed agent's session is paused instead and its
// streams end when the restarted agent's new session arrives: lab.test.ts and resume.test.ts cover that.
const lab = await startTestLab(43, lines, ['--resume-grace-ms', '0']);
t.teardown(() => lab.close());
const PORT = 9180;

/** An endless body on each node's 9180: 16 KiB chunks, with backpressure. */
const sources: Server[] = [];
for (const node of lab.nodes) {
  const src = createServer((_req, res) => {
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    const pump = (): void => {
      while (res.write(chunk)) if (res.destroyed) return;
      res.once('drain', pump);
    };
    res.on('error', () => {});
    pump();
  });
  await new Promise<void>((r) => src.listen(PORT, node.ip, r));
  sources.push(src);
}
t.teardown(() => sources.forEach((s) => (s.closeAllConnections(), s.close())));
await writeFile(lab.configPath, `dnat-ports-pair: '9100=10264,${PORT}=10264'\n`);

interface Transfer {
  bytes: number;
  ended?: { ms: number; how: string };
}

/** A GET through the HTTP listener that reads forever; records how and when it ended. */
function download(ip: string, killedAt: () => number): Transfer {
  const tr: Transfer = { bytes: 0 };
  const end = (how: string): void => void (tr.ended ??= { ms: performance.now() - killedAt(), how });
  const req = request(
    { host: lab.serverHost, port: lab.ports.http, path: '/stream', headers: { host: `${ip}:${PORT}` }, agent: false },
    (res: IncomingMessage) => {
      if (res.statusCode !== 200) return end(`status ${res.statusCode}`);
      res.on('data', (b: Buffer) => (tr.bytes += b.length));
      res.on('aborted', () => end('aborted'));
      res.on('error', (e) => end(`error ${e.message}`));
      res.on('end', () => end(res.complete ? 'complete' : 'incomplete'));
    },
  );
  req.on('error', (e) => end(`error ${e.message}`));
  req.end();
  return tr;
}

/** The same through the CONNECT listener (raw relay). */
function rawDownload(ip: string, killedAt: () => number): Transfer {
  const tr: Transfer = { bytes: 0 };
  const s = netConnect(lab.ports.connect, lab.serverHost);
  s.on('data', (b: Buffer) => (tr.bytes += b.length));
  s.on('error', (e) => void (tr.ended ??= { ms: performance.now() - killedAt(), how: `error ${e.message}` }));
  s.on('close', () => void (tr.ended ??= { ms: performance.now() - killedAt(), how: 'close' }));
  s.write(`CONNECT ${ip}:${PORT} HTTP/1.1\r\nHost: ${ip}:${PORT}\r\n\r\nGET /stream HTTP/1.1\r\nHost: ${ip}:${PORT}\r\n\r\n`);
  return tr;
}

async function metric(name: string): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    request({ host: lab.serverHost, port: lab.ports.meta, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
  // summed over the series (edge_tunnel_sessions has one per transport)
  const values = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].map((m) => Number(m[1]));
  return values.length > 0 ? values.reduce((a, b) => a + b, 0) : NaN;
}

t.test('agent SIGKILL mid-transfer: every affected caller connection errors within 1 s; the server frees its state', async (t) => {
  // wait for the live config to open the port
  for (let i = 0; i < 40; i++) {
    const probe = download(lab.nodes[0]!.ip, () => 0);
    await sleep(150);
    if (probe.bytes > 0) break;
  }
  let killedAt = Infinity;
  const [a, b] = lab.nodes;
  const affected = [...Array.from({ length: 4 }, () => download(a!.ip, () => killedAt)), rawDownload(a!.ip, () => killedAt)];
  const bystander = download(b!.ip, () => killedAt);
  const deadline = Date.now() + 10_000;
  while ([...affected, bystander].some((x) => x.bytes < 256 * 1024) && Date.now() < deadline) await sleep(20);
  t.ok(
    affected.every((x) => x.bytes >= 256 * 1024),
    'all transfers are flowing',
  );
  killedAt = performance.now();
  lab.agents.get(a!.name)!.child.kill('SIGKILL');
  while (affected.some((x) => x.ended === undefined) && performance.now() - killedAt < 3_000) await sleep(10);
  for (const [i, x] of affected.entries()) {
    t.ok(x.ended, `transfer ${i} ended`);
    t.ok(x.ended && x.ended.ms < 1_000, `transfer ${i} ended ${x.ended?.how} after ${x.ended?.ms.toFixed(0)} ms`);
    t.not(x.ended?.how, 'complete', `transfer ${i} did not look complete`);
  }
  const before = bystander.bytes;
  await sleep(300);
  t.equal(bystander.ended, undefined, "the other node's transfer is still open");
  t.ok(bystander.bytes > before, 'and still moving');
  t.equal(await metric('edge_tunnel_sessions'), 1, 'the dead session is gone');
  t.equal(await metric('edge_tunnel_open_streams'), 1, 'only the bystander stream is left open');
  t.ok(
    lines.some((l) => /agent session closed/.test(l) && l.includes(a!.name)),
    'the server logged the closed session',
  );
});
