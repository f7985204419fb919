// The CLI as a real process: --help, bad flags, start from PEM files, SIGTERM drains and exits 0.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { startFakeAgent } from './fixtures/fake-agent.js';
import { send, waitFor } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
t.setTimeout(60_000);
const here = fileURLToPath(new URL('.', import.meta.url));
const mainTs = join(here, '../src/main.ts');
const mainJs = join(here, '../dist/main.js');
const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
/** dist/main.js when it is newer than every source file (faster to start), else main.ts via the loader. */
function distIsFresh(): boolean {
  if (!existsSync(mainJs)) return false;
  const built = statSync(mainJs).mtimeMs;
  const src = join(here, '../src');
  return readdirSync(src, { recursive: true }).every((f) => statSync(join(src, String(f))).mtimeMs <= built);
}
const useDist = distIsFresh();

function run(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const entry = useDist || loader.length === 0 ? [mainJs] : [...loader, mainTs];
  const child = spawn(process.execPath, [...entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '' } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c));
  child.stderr!.on('data', (c: Buffer) => (err += c));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => void child.kill('SIGKILL'));
  return { child, out: () => out, err: () => err, exit };
}

t.test('entry point exists', async (t) => {
  t.ok(loader.length > 0 || existsSync(mainJs), 'main.ts through the tap loader or dist/main.js');
});

t.test('--help prints usage and exits 0; a bad flag exits 2 with a sentence', async (t) => {
  const help = run(['--help']);
  t.equal(await help.exit, 0);
  t.match(help.out(), /usage: edge-tunnel-server[\s\S]*--agent-addr[\s\S]*EDGE_TUNNEL_AGENT_ADDR/);
  const bad = run(['--nope']);
  t.equal(await bad.exit, 2);
  t.match(bad.err(), /unknown argument "--nope"/);
  const small = run(['--initial-window', '512']);
  t.equal(await small.exit, 2, 'a framing limit out of range exits 2');
  t.match(small.err(), /--initial-window \(env EDGE_TUNNEL_INITIAL_WINDOW\) must be a whole number from 1024 to 2147483647, got "512"/);
});

t.test('starts from PEM files, serves, and drains on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-tunnel-server-main-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => (writeFileSync(join(dir, name), text), join(dir, name));
  const proc = run([
    '--agent-addr',
    '127.0.0.1:0',
    '--https-addr',
    '127.0.0.1:0',
    '--http-addr',
    '127.0.0.1:0',
    '--meta-addr',
    '127.0.0.1:0',
    '--cert',
    file('server.crt', pki.server.certPem),
    '--key',
    file('server.key', pki.server.keyPem),
    '--agent-ca',
    file('agent-ca.crt', pki.agentCa.certPem),
    '--require-caller-cert=false',
    '--drain-timeout-ms',
    '2000',
  ]);
  await waitFor(() => proc.out().includes('server listening'), 30_000, 'server listening');
  const listening = JSON.parse(
    proc
      .out()
      .split('\n')
      .find((l) => l.includes('server listening'))!,
  ) as Record<string, string>;
  const addr = (s: string): { host: string; port: number } => ({ host: s.slice(0, s.lastIndexOf(':')), port: Number(s.slice(s.lastIndexOf(':') + 1)) });
  t.equal((await send(addr(listening['meta']!), { path: '/readyz' })).status, 200);
  const cert = await pki.agent('edge-a', ['127.0.20.1']);
  const agent = await startFakeAgent({
    ...addr(listening['agent']!),
    cert: cert.certPem,
    key: cert.keyPem,
    ca: pki.agentCa.certPem,
    nodeName: 'edge-a',
    nodeIps: ['127.0.20.1'],
  });
  t.teardown(() => agent.close());
  await waitFor(() => proc.out().includes('agent attached'), 5000, 'agent attached');
  proc.child.kill('SIGTERM');
  await waitFor(() => agent.goaways.length > 0, 5000, 'GOAWAY on SIGTERM');
  t.match(agent.goaways[0], { code: 'NO_ERROR', reason: 'server shutting down' });
  t.equal(await proc.exit, 0, 'exit code 0 after draining');
  t.match(proc.out(), /server closed/);
});
