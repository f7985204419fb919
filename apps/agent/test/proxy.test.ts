// Sessions through a real HTTP CONNECT proxy (Debian's tinyproxy on loopback, whose log proves the
// path): the session comes up through it, each refusal (407/401, 403, timeout) gives its own log
// code and fix, and the proxy password never shows in a log line. Plus HTTPS_PROXY/NO_PROXY parsing.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parseConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { bypassesProxy, proxyConfig } from '../src/proxy-config.js';
import { describeProxy } from '../src/start.js';
import { waitFor } from './fixtures/agent.js';
import { setup } from './fixtures/harness.js';
import { HAVE_TINYPROXY, Tinyproxy } from './fixtures/tinyproxy.js';

const skip = HAVE_TINYPROXY ? false : 'tinyproxy not installed (apt-get install tinyproxy)';
const dir = await mkdtemp(join(tmpdir(), 'et-proxy-test-'));

function viaProxy(port: number, extra: { authFile?: string; timeoutMs?: number } = {}) {
  return proxyConfig({ proxy: `http://127.0.0.1:${port}`, authFile: extra.authFile, timeoutMs: extra.timeoutMs ?? 5000 }, {})!;
}

async function proxied(t: Test, proxy: Tinyproxy, extra: Parameters<typeof viaProxy>[1] = {}) {
  await proxy.start();
  t.teardown(() => proxy.stop());
  return setup(t, { config: { proxy: viaProxy(proxy.port, extra) } });
}

const failure = (lines: { msg: string; code?: unknown }[]) => lines.find((l) => l.msg === 'connect failed');

t.test('the session comes up through the proxy, and comes back after the proxy restarts', { skip }, async (t) => {
  const proxy = new Tinyproxy();
  const { server, agent, config } = await proxied(t, proxy);
  await server.nextSession();
  await waitFor(() => agent.status().connected, 5000, 'connected');
  t.same(proxy.connects(), [`127.0.0.1:${config.server.port}`], 'the proxy carried the one dial');
  await proxy.stop();
  for (const s of server.sessions) s.destroy();
  await waitFor(() => !agent.status().connected, 5000, 'session lost');
  await proxy.start();
  await waitFor(() => agent.status().connected, 10_000, 'reconnected through the restarted proxy');
  t.ok(proxy.connects().length >= 2, 'the redial went through the proxy too');
});

t.test('407 without credentials names --proxy-auth-file; wrong ones name the file; right ones pass, never logged', { skip }, async (t) => {
  const password = 's3cret-Pw-77';
  const proxy = new Tinyproxy({ auth: { user: 'edge', password } });
  const none = await proxied(t, proxy);
  await waitFor(() => failure(none.lines), 5000, 'a failed dial');
  t.match(failure(none.lines), { code: 'proxy_auth', reason: /407.*give --proxy-auth-file/ });
  await none.agent.close();

  const wrongFile = join(dir, 'wrong');
  await writeFile(wrongFile, 'edge:nope\n');
  const wrong = await setup(t, { config: { proxy: viaProxy(proxy.port, { authFile: wrongFile }) } });
  await waitFor(() => failure(wrong.lines), 5000, 'a failed dial');
  t.match(failure(wrong.lines), { code: 'proxy_auth', reason: new RegExp(`rejected the user:password in ${wrongFile}`) });
  await wrong.agent.close();

  const goodFile = join(dir, 'good');
  await writeFile(goodFile, `edge:${password}\n`);
  const good = await setup(t, { config: { proxy: viaProxy(proxy.port, { authFile: goodFile }) } });
  await waitFor(() => good.agent.status().connected, 5000, 'connected with credentials');
  const all = JSON.stringify([...none.lines, ...wrong.lines, ...good.lines]);
  t.notOk(all.includes(password), 'password not in any log line');
  t.notOk(all.includes(Buffer.from(`edge:${password}`).toString('base64')), 'nor its Basic encoding');
});

t.test('403 (CONNECT port not allowed) says which port to allow', { skip }, async (t) => {
  const proxy = new Tinyproxy({ connectPorts: [443] });
  const { lines, config, agent } = await proxied(t, proxy);
  await waitFor(() => failure(lines), 5000, 'a failed dial');
  t.match(failure(lines), { code: 'proxy_forbidden', level: 50, reason: new RegExp(`403.*allow CONNECT to port ${config.server.port}`) });
  t.equal(agent.status().connected, false);
});

t.test('a proxy that never answers: proxy_timeout within --proxy-timeout-ms', async (t) => {
  const held: Socket[] = [];
  const silent = createServer((s) => held.push(s)).listen(0, '127.0.0.1');
  await new Promise((r) => silent.once('listening', r));
  t.teardown(() => (held.forEach((s) => s.destroy()), silent.close()));
  const { lines } = await setup(t, { config: { proxy: viaProxy((silent.address() as AddressInfo).port, { timeoutMs: 200 }) } });
  await waitFor(() => failure(lines), 5000, 'a failed dial');
  t.match(failure(lines), { code: 'proxy_timeout', reason: /did not answer CONNECT .* within 200 ms/ });
});

t.test("proxy settings: --proxy wins over the environment, NO_PROXY applies to the environment's, no password on the command line", async (t) => {
  const base = ['--server', 'srv.example.com:443', '--node-name', 'n1', '--node-ip', '10.0.0.1', '--cert', 'c', '--key', 'k', '--ca', 'ca'];
  const env = { HTTPS_PROXY: 'http://u:p%40ss@envproxy:3128', NO_PROXY: '.example.com' };
  t.equal(
    parseConfig(base, env).help === false && (parseConfig(base, env) as { config: { proxy?: unknown } }).config.proxy !== undefined,
    true,
    'env proxy parsed',
  );
  const fromEnv = proxyConfig({ timeoutMs: 1 }, env)!;
  t.match(fromEnv, { host: 'envproxy', port: 3128, source: 'HTTPS_PROXY', urlAuth: 'u:p@ss', display: 'http://envproxy:3128' });
  t.ok(bypassesProxy(fromEnv.noProxy, { host: 'srv.example.com', port: 443 }), 'NO_PROXY domain suffix');
  t.same(proxyConfig({ proxy: 'https://flag:8443', timeoutMs: 1 }, env), {
    protocol: 'https',
    host: 'flag',
    port: 8443,
    display: 'https://flag:8443',
    source: '--proxy',
    noProxy: [],
    timeoutMs: 1,
  });
  t.equal(proxyConfig({ proxy: 'direct', timeoutMs: 1 }, env), undefined, '--proxy direct ignores the environment');
  t.equal(proxyConfig({ timeoutMs: 1 }, { https_proxy: 'lower:1', HTTPS_PROXY: 'upper:2' })!.host, 'lower', 'lower-case first, as curl');
  t.throws(() => proxyConfig({ proxy: 'http://u:pw@p:1', timeoutMs: 1 }, {}), ConfigError);
  t.throws(() => proxyConfig({ proxy: 'socks5://p:1', timeoutMs: 1 }, {}), /only http:\/\/ and https:\/\//);
  const cases: Array<[string, string, number, boolean]> = [
    ['*', 'a', 1, true],
    ['10.0.0.0/8', '10.1.2.3', 1, true],
    ['10.0.0.0/8', '11.1.2.3', 1, false],
    ['example.com', 'example.com', 1, true],
    ['example.com', 'badexample.com', 1, false],
    ['srv:443', 'srv', 443, true],
    ['srv:443', 'srv', 10262, false],
    ['[::1]:5', '::1', 5, true],
    ['fd00::/8', 'fd00::1', 1, true],
    ['127.0.0.1', '127.0.0.1', 1, true],
  ];
  for (const [entry, host, port, want] of cases) t.equal(bypassesProxy([entry], { host, port }), want, `${entry} vs ${host}:${port}`);
});

t.test("the start line's proxy field: source and auth named, the password never", async (t) => {
  t.equal(describeProxy(undefined), 'none (direct dials)');
  const env = proxyConfig({ timeoutMs: 1 }, { HTTPS_PROXY: 'http://edge:s3cret-pw@squid:3128', NO_PROXY: '10.0.0.0/8' })!;
  t.equal(describeProxy(env), 'http://squid:3128 (from HTTPS_PROXY, Basic auth from the user:password in HTTPS_PROXY, direct for NO_PROXY 10.0.0.0/8)');
  t.notMatch(describeProxy(env), /s3cret/);
  const flag = proxyConfig({ proxy: 'http://squid:3128', authFile: '/etc/proxy/auth', timeoutMs: 1 }, {})!;
  t.equal(describeProxy(flag), 'http://squid:3128 (from --proxy, Basic auth from /etc/proxy/auth)');
});
