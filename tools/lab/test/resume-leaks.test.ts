// Issue 17: nothing leaks after 1 000 resumes. The real server and the real agent run in this
// process (their `start()`, the code their binaries run: the server's agent listener and resume
// table, the agent's resume loop and dialer), on loopback. A raw stream (CONNECT to an echo target
// on the node) stays open across every resume. Each resume is forced by dropping the server's
// current TCP connection of the session (ResumableLink.dropSocket: the socket is destroyed, as a
// reset does); the agent sees the loss, redials and resumes over a new TLS connection. Before and
// after the 1 000 resumes (after a warm-up of 50): open fds (/proc/self/fd), heap used after
// repeated GCs, and the active resources by type (process.getActiveResourcesInfo()) — each with a
// gross bound that a per-resume leak (one fd, one timer, one socket or ~4 KiB per resume) breaks.
// LEAK_COUNTS=1 also reports live objects per prototype (slow: a heap walk per prototype);
// EDGE_TUNNEL_LEAK_RESUMES=<n> changes the count.
import t from 'tap';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { parseConfig as parseAgentConfig, start as startAgent } from '@edge-tunnel/agent';
import { parseConfig as parseServerConfig, start as startServer } from '@edge-tunnel/server';
import { writeLabCerts } from '../src/certs.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const RESUMES = Number(process.env['EDGE_TUNNEL_LEAK_RESUMES'] ?? 1000);
const WARMUP = 50;
const NODE = { name: 'edge-a', ip: '127.0.177.1' };
const MiB = 1024 * 1024;

/** Log lines counted by message, never kept (the lines of 1 000 resumes would be heap growth of their own). */
function countingLogger(counts: Map<string, number>) {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) {
        const m = /"msg":"([^"]*)"/.exec(line);
        if (m) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
      }
      cb();
    },
  });
  return pino({ level: 'info' }, sink);
}

const fds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 6; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

function resources(): Record<string, number> {
  const by: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) by[r.toString()] = (by[r.toString()] ?? 0) + 1;
  return by;
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

t.test(`${RESUMES} forced resumes with a stream open across them: fds, heap and active resources come back`, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'et-leaks-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const certs = await writeLabCerts(join(dir, 'pki'), [NODE], '127.0.0.1');
  // the node's echo target
  const targets: Socket[] = [];
  const echo = createServer({ allowHalfOpen: true }, (s) => {
    targets.push(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  echo.listen(0, NODE.ip);
  await once(echo, 'listening');
  t.teardown(() => echo.close());
  const port = (echo.address() as AddressInfo).port;
  const configPath = join(dir, 'ports.yaml');
  await writeFile(configPath, `dnat-ports-pair: '${port}=10264'\n`);

  const serverLog = new Map<string, number>();
  const agentLog = new Map<string, number>();
  const parsedServer = parseServerConfig([
    '--agent-addr',
    '127.0.0.1:0',
    '--https-addr',
    '127.0.0.1:0',
    '--http-addr',
    '127.0.0.1:0',
    '--meta-addr',
    '127.0.0.1:0',
    '--connect-addr',
    '127.0.0.1:0',
    '--cert',
    certs.path('server', 'crt'),
    '--key',
    certs.path('server', 'key'),
    '--agent-ca',
    certs.path('ca', 'crt'),
    '--caller-ca',
    certs.path('ca', 'crt'),
    '--require-caller-cert=false',
    '--config',
    configPath,
    '--drain-timeout-ms',
    '500',
  ]);
  if (parsedServer.help) throw new Error('unexpected help');
  const server = await startServer(parsedServer.config, countingLogger(serverLog));
  t.teardown(() => server.close());
  const agentPort = server.addresses.agent.port;
  const parsedAgent = parseAgentConfig([
    '--server',
    `127.0.0.1:${agentPort}`,
    '--node-name',
    NODE.name,
    '--node-ip',
    NODE.ip,
    '--cert',
    certs.path(`agent-${NODE.name}`, 'crt'),
    '--key',
    certs.path(`agent-${NODE.name}`, 'key'),
    '--ca',
    certs.path('ca', 'crt'),
    '--meta-addr',
    `${NODE.ip}:0`,
    '--drain-timeout-ms',
    '500',
  ]);
  if (parsedAgent.help) throw new Error('unexpected help');
  const agent = await startAgent(parsedAgent.config, countingLogger(agentLog));
  t.teardown(() => agent.close());
  await until('the agent attached', () => server.registry.get(NODE.name)?.resume !== undefined, 15_000);

  // one raw stream through the CONNECT frontend to the echo target, open across every resume (the
  // first tries may come before the agent applied the port config)
  let caller!: Socket;
  let got = '';
  for (let i = 0; i < 40 && !got.startsWith('HTTP/1.1 200'); i++) {
    caller?.destroy();
    got = '';
    caller = connect(server.addresses.connect!.port, '127.0.0.1');
    caller.on('error', () => {});
    caller.setEncoding('latin1').on('data', (c: string) => (got += c));
    caller.write(`CONNECT ${NODE.ip}:${port} HTTP/1.1\r\nHost: ${NODE.ip}:${port}\r\n\r\n`);
    await until('CONNECT answered', () => got.includes('\r\n\r\n') || caller.destroyed, 10_000);
    if (!got.startsWith('HTTP/1.1 200')) await new Promise((r) => setTimeout(r, 250));
  }
  t.match(got, /^HTTP\/1\.1 200/, 'the stream is open');
  let sent = '';
  got = '';
  const say = async (s: string): Promise<void> => {
    sent += s;
    caller.write(s);
    await until(`the echo of ${JSON.stringify(s.slice(0, 20))}`, () => got === sent, 10_000);
  };
  await say('before\n');

  const session = server.registry.get(NODE.name)!;
  const link = session.resume!.link;
  const resumed = (): number => serverLog.get('agent session resumed') ?? 0;
  async function forceResumes(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const before = resumed();
      link.dropSocket('test: connection dropped');
      await until(`resume ${i + 1}`, () => resumed() > before && !link.paused, 10_000);
      // the stream carries bytes between resumes (a write every 10th, so the replay path runs too)
      if (i % 10 === 0) {
        const line = `${i}\n`;
        sent += line;
        caller.write(line);
      }
    }
    await until('the echo of every write', () => got === sent, 10_000);
  }

  await forceResumes(WARMUP);
  const before = { fds: await fds(), heap: await settledHeap(), resources: resources(), rss: process.memoryUsage().rss };
  const countsBefore = process.env['LEAK_COUNTS'] ? await (await import('./fixtures/object-counts.js')).objectCounts() : undefined;
  const startedAt = Date.now();
  await forceResumes(RESUMES);
  const ms = Date.now() - startedAt;
  await new Promise((r) => setTimeout(r, 1_500)); // old sockets' 1 s destroy timers run out
  const after = { fds: await fds(), heap: await settledHeap(), resources: resources(), rss: process.memoryUsage().rss };
  if (countsBefore) {
    const countsAfter = await (await import('./fixtures/object-counts.js')).objectCounts();
    t.comment(
      `objects by prototype (before -> after): ${Object.keys(countsAfter)
        .map((k) => `${k} ${countsBefore[k]}->${countsAfter[k]}`)
        .join(', ')}`,
    );
  }
  await say('after\n');

  t.equal(server.registry.get(NODE.name), session, 'the same session on the server throughout');
  // at least one per forced drop (a loaded machine may add a keepalive verdict's own resume)
  t.ok(resumed() >= WARMUP + RESUMES, `${resumed()} resumes logged by the server (${WARMUP + RESUMES} forced)`);
  t.equal(agentLog.get('session resumed'), resumed(), 'as many by the agent');
  t.equal(agentLog.get('session lost') ?? 0, 0, 'the agent never lost the session');
  t.equal(targets.length, 1, 'one target connection: the stream was carried across every resume');
  t.equal(session.resume!.succeeded, resumed(), 'the registry counts every resume');
  const heapGrowth = after.heap - before.heap;
  t.comment(
    `${RESUMES} resumes in ${ms} ms (${(ms / RESUMES).toFixed(1)} ms each); fds ${before.fds} -> ${after.fds}; heap after GC ${(before.heap / MiB).toFixed(2)} -> ${(after.heap / MiB).toFixed(2)} MiB (${(heapGrowth / 1024).toFixed(0)} KiB, ${(heapGrowth / RESUMES).toFixed(0)} B per resume); rss ${(before.rss / MiB).toFixed(0)} -> ${(after.rss / MiB).toFixed(0)} MiB`,
  );
  t.comment(`active resources before ${JSON.stringify(before.resources)}; after ${JSON.stringify(after.resources)}`);
  t.ok(after.fds - before.fds <= 4, `open fds: ${before.fds} -> ${after.fds} (a leaked socket per resume would add ${RESUMES})`);
  t.ok(
    heapGrowth < 4 * MiB,
    `heap after GC grew ${(heapGrowth / 1024).toFixed(0)} KiB (< 4 MiB; 4 KiB kept per resume would be ${((4 * RESUMES) / 1024).toFixed(1)} MiB)`,
  );
  for (const kind of new Set([...Object.keys(before.resources), ...Object.keys(after.resources)])) {
    const [b, a] = [before.resources[kind] ?? 0, after.resources[kind] ?? 0];
    t.ok(a - b <= 4, `active ${kind}: ${b} -> ${a}`);
  }
  caller.destroy();
});
