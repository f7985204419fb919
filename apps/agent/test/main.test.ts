// The CLI as a process: bad flags exit 2; SIGTERM drains and exits 0. Runs the built dist/main.js
// (spawning the TypeScript source through tap's loader takes tens of seconds on a busy machine).
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { waitFor } from './fixtures/agent.js';
import { testPki } from './fixtures/pki.js';
import { FakeServer } from './fixtures/server.js';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const skip = existsSync(main) ? false : 'dist/main.js is missing: run `npm run build` in apps/agent first';
const run = (args: string[], env: Record<string, string> = {}) =>
  spawn(process.execPath, [main, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

t.test('bad flags: exit 2 with a message naming the flag', { skip }, async (t) => {
  const child = run(['--server', 'x:1', '--dial-timeout-ms', 'soon']);
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const [code] = await once(child, 'exit');
  t.equal(code, 2);
  t.match(stderr, /--node-name is required|--dial-timeout-ms/);
});

t.test('a framing limit out of range: exit 2 naming the flag and its range', { skip }, async (t) => {
  const child = run([
    '--server',
    'x:1',
    '--node-name',
    'edge-1',
    '--node-ip',
    '127.0.0.2',
    '--cert',
    '/c',
    '--key',
    '/k',
    '--ca',
    '/ca',
    '--max-window',
    '512',
  ]);
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const [code] = await once(child, 'exit');
  t.equal(code, 2);
  t.match(stderr, /--max-window \(env EDGE_TUNNEL_MAX_WINDOW\) must be a whole number from 1024 to 2147483647, got "512"/);
});

t.test('SIGTERM: drains and exits 0', { skip }, async (t) => {
  const pki = await testPki();
  const server = new FakeServer(pki);
  const port = await server.listen();
  t.teardown(() => server.close());
  const child = run(['--meta-addr', '127.0.0.1:0', '--drain-timeout-ms', '500'], {
    EDGE_TUNNEL_SERVER: `127.0.0.1:${port}`,
    NODE_NAME: 'edge-1',
    NODE_IP: '127.0.0.2',
    EDGE_TUNNEL_CERT: pki.certFile,
    EDGE_TUNNEL_KEY: pki.keyFile,
    EDGE_TUNNEL_CA: pki.caFile,
  });
  let stdout = '';
  child.stdout.on('data', (c) => (stdout += c));
  await server.nextSession();
  await waitFor(() => stdout.includes('session up'), 5000, 'session up log');
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  t.equal(code, 0);
  const msgs = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string });
  t.ok(
    msgs.some((m) => m.msg === 'agent stopped'),
    'logged agent stopped',
  );
});
