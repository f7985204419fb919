// Benchmark of the resumable link (framing spec §10): one bulk stream through a Session over plain
// TLS, over the resumable link on TLS, and over the link with its TCP connection cut every
// --cut-ms (default 1000) and resumed on a new TLS connection. Prints goodput per case and the
// pause of each resume (loss → resumed, p50 / p99 / max). Both ends run in this process (the
// numbers compare the cases; they are not the mux's ceiling: perf/framing/mux-bench.mjs is).
//
//   (cd libs/framing && npx tsc -p tsconfig.build.json) && node perf/framing/resume-bench.mjs [--quick] [--cut-ms N]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { Session, resume } = /** @type {typeof import('@edge-tunnel/framing')} */ (await import(join(root, 'libs/framing/dist/index.js')));
const MiB = 1024 * 1024;
const BYTES = (process.argv.includes('--quick') ? 64 : 256) * MiB;
const cutArg = process.argv.indexOf('--cut-ms');
const CUT_MS = cutArg > 0 ? Number(process.argv[cutArg + 1]) : 1000;

const dir = mkdtempSync(join(tmpdir(), 'resume-bench-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-days',
    '1',
    '-keyout',
    join(dir, 'k.pem'),
    '-out',
    join(dir, 'c.pem'),
  ],
  { stdio: 'ignore' },
);
const key = readFileSync(join(dir, 'k.pem'));
const cert = readFileSync(join(dir, 'c.pem'));
rmSync(dir, { recursive: true, force: true });

/** @param {'plain' | 'link' | 'cut'} mode */
async function run(mode) {
  const table = new resume.ResumeTable({ graceMs: 10_000 });
  /** @type {net.Socket[]} */
  const raws = [];
  /** @type {(s: import('@edge-tunnel/framing').Session) => void} */
  let serverSession;
  /** @type {Promise<import('@edge-tunnel/framing').Session>} */
  const gotServer = new Promise((r) => (serverSession = r));
  const server = tls.createServer({ key, cert, allowHalfOpen: true }, (s) => {
    if (mode === 'plain') return serverSession(new Session(s, { role: 'server' }));
    void table.accept(s, 'bench', resume.connectionBinding(s)).then((a) => a.kind === 'new' && serverSession(new Session(a.entry.link, { role: 'server' })));
  });
  await /** @type {Promise<void>} */ (new Promise((r) => server.listen(0, '127.0.0.1', r)));
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  /** @returns {Promise<tls.TLSSocket>} */
  const dial = () =>
    new Promise((res) => {
      const raw = net.connect({ host: '127.0.0.1', port });
      raws.push(raw);
      const c = tls.connect(/** @type {tls.ConnectionOptions} */ ({ socket: raw, ca: cert, servername: 'localhost', allowHalfOpen: true }), () => res(c));
    });
  const first = await dial();
  /** @type {import('@edge-tunnel/framing').Session} */
  let client;
  /** @type {Awaited<ReturnType<typeof resume.openLink>>['link']} */
  let link;
  /** @type {Awaited<ReturnType<typeof resume.openLink>>['credentials']} */
  let credentials;
  if (mode === 'plain') client = new Session(first, { role: 'client' });
  else {
    ({ link, credentials } = await resume.openLink(first, { timeoutMs: 5_000 }));
    client = new Session(link, { role: 'client' });
  }
  const srv = await gotServer;
  /** @type {number[]} */
  const pauses = [];
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  if (mode === 'cut') {
    link.on('paused', async () => {
      const lost = performance.now();
      const s = await dial();
      await resume.resumeLink(link, credentials, s, 'bench', resume.connectionBinding(s), 5_000);
      pauses.push(performance.now() - lost);
    });
    timer = setInterval(() => raws.splice(0).forEach((r) => r.destroy()), CUT_MS);
  }
  /** @type {Promise<import('@edge-tunnel/framing').Stream>} */
  const accepted = new Promise((r) => srv.once('stream', (st) => (st.accept(), r(st))));
  const up = client.open({ host: 'h', port: 1 }).on('error', () => {});
  const down = (await accepted).on('error', () => {});
  const t0 = performance.now();
  let got = 0;
  const done = new Promise((r) => down.on('data', (/** @type {Buffer} */ b) => (got += b.length)).once('end', r));
  const block = Buffer.alloc(64 * 1024, 1);
  for (let sent = 0; sent < BYTES; sent += block.length) if (!up.write(block)) await new Promise((r) => up.once('drain', r));
  up.end();
  await done;
  const ms = performance.now() - t0;
  clearInterval(timer);
  client.destroy();
  srv.destroy();
  table.destroyAll(new Error('done'));
  raws.forEach((r) => r.destroy());
  server.close();
  if (got !== BYTES) throw new Error(`${mode}: got ${got} of ${BYTES} bytes`);
  pauses.sort((a, b) => a - b);
  const q = (/** @type {number} */ p) => (pauses.length ? pauses[Math.min(pauses.length - 1, Math.floor(p * pauses.length))].toFixed(1) : '-');
  return {
    mode,
    MBps: (BYTES / MiB / (ms / 1000)).toFixed(0),
    resumes: pauses.length,
    pauseP50: q(0.5),
    pauseP99: q(0.99),
    pauseMax: pauses.length ? pauses.at(-1).toFixed(1) : '-',
  };
}

const rows = [];
for (const mode of /** @type {const} */ (['plain', 'link', 'cut'])) rows.push(await run(mode));
console.log(`one bulk stream of ${BYTES / MiB} MiB, TLS loopback, both ends in one process; cut: every ${CUT_MS} ms`);
console.table(rows);
