// A port nobody opened on an edge IP, with the real server binary and real iptables in throw-away
// network namespaces (root only). The edge namespace drops TCP to the edge IP, as NAT does for the
// cloud, so without the catch-all (`--iptables-other-ports=false`) curl hangs until its timeout; with it
// (the default) curl gets `403 PORT_NOT_CONFIGURED` from the HTTP listener at once, and clients that
// do not speak HTTP are answered and closed instead of hanging.
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { testPki } from './fixtures/pki.js';

const exec = promisify(execFile);
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const CLOUD_IP = '10.218.2.1';
const EDGE_IP = '10.218.2.2';
/** curl's own deadline: the hang before the fix ends here */
const CURL_MAX_S = 3;

async function unavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root: network namespaces and iptables need root';
  for (const cmd of ['ip', 'iptables', 'iptables-save', 'iptables-restore', 'curl']) {
    if (
      await exec('sh', ['-c', `command -v ${cmd}`]).then(
        () => false,
        () => true,
      )
    )
      return `${cmd} not installed (Debian packages iproute2, iptables, curl)`;
  }
  return undefined;
}

const skip = await unavailable();

interface Curl {
  code: number;
  status: number;
  headers: string;
  body: string;
  seconds: number;
}

t.test('an unopened port of an edge IP answers 403 PORT_NOT_CONFIGURED at once instead of hanging', { skip: skip ?? false }, async (t) => {
  const pki = await testPki();
  const id = randomBytes(3).toString('hex');
  const cloud = `h18-srv-${id}-c`;
  const edge = `h18-srv-${id}-e`;
  const children: ChildProcess[] = [];
  const removeNs = (): void => {
    for (const c of children) c.kill('SIGKILL');
    for (const ns of [cloud, edge]) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  };
  process.once('exit', removeNs);
  t.teardown(() => {
    process.off('exit', removeNs);
    removeNs();
  });
  const ip = (...args: string[]) => exec('ip', args);
  for (const ns of [cloud, edge]) await ip('netns', 'add', ns);
  await ip('-n', cloud, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', edge);
  await ip('-n', cloud, 'addr', 'add', `${CLOUD_IP}/24`, 'dev', 'veth0');
  await ip('-n', edge, 'addr', 'add', `${EDGE_IP}/24`, 'dev', 'veth1');
  for (const [ns, dev] of [
    [cloud, 'veth0'],
    [edge, 'veth1'],
  ] as const) {
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    await ip('-n', ns, 'link', 'set', dev, 'up');
  }
  // the cloud cannot reach edge IPs: their SYNs vanish
  await exec('ip', ['netns', 'exec', edge, 'iptables', '-A', 'INPUT', '-d', EDGE_IP, '-p', 'tcp', '-j', 'DROP']);

  const env = {
    ...process.env,
    EDGE_TUNNEL_CERT: pki.server.certPem,
    EDGE_TUNNEL_KEY: pki.server.keyPem,
    EDGE_TUNNEL_AGENT_CA: pki.agentCa.certPem,
    EDGE_TUNNEL_CALLER_CA: pki.clusterCa.certPem,
    EDGE_TUNNEL_KUBELET_CLIENT_CERT: pki.kubeletClient.certPem,
    EDGE_TUNNEL_KUBELET_CLIENT_KEY: pki.kubeletClient.keyPem,
    EDGE_TUNNEL_KUBELET_CA: pki.clusterCa.certPem,
  };
  /** the real server inside the cloud namespace; resolves once its rules are applied */
  const startServer = async (extra: string[]): Promise<{ child: ChildProcess; lines: Array<Record<string, unknown>> }> => {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        cloud,
        process.execPath,
        MAIN,
        '--agent-addr',
        `${CLOUD_IP}:10262`,
        '--https-addr',
        `${CLOUD_IP}:10263`,
        '--http-addr',
        `${CLOUD_IP}:10264`,
        '--meta-addr',
        '127.0.0.1:10265',
        '--capture',
        'iptables',
        '--edge-node-ip',
        EDGE_IP,
        ...extra,
      ],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    const lines: Array<Record<string, unknown>> = [];
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        const obj = JSON.parse(line) as Record<string, unknown>;
        lines.push(obj);
        if (obj['msg'] === 'capture rules applied') resolve();
      });
    });
    return { child, lines };
  };
  const stopServer = async (child: ChildProcess): Promise<number | null> => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    return exited;
  };
  const curl = async (url: string, ...args: string[]): Promise<Curl> => {
    const res = await exec('ip', [
      'netns',
      'exec',
      cloud,
      'curl',
      '-sS',
      '-k',
      '-m',
      String(CURL_MAX_S),
      '-D',
      '-',
      '-w',
      '\n%{http_code} %{time_total}',
      ...args,
      url,
    ]).catch((err: { code: number; stdout: string }) => ({ ...err, stdout: err.stdout }));
    const out = res.stdout;
    const tail = out.slice(out.lastIndexOf('\n') + 1).split(' ');
    const [headers = '', body = ''] = out.slice(0, out.lastIndexOf('\n')).split('\r\n\r\n');
    return { code: 'code' in res ? res.code : 0, status: Number(tail[0]), headers, body, seconds: Number(tail[1]) };
  };

  // before: only the configured ports are DNATed
  const before = await startServer(['--iptables-other-ports=false']);
  const hang = await curl(`http://${EDGE_IP}:9999/metrics`);
  t.equal(hang.code, 28, `--iptables-other-ports=false: curl to edgeIP:9999 hangs until its ${CURL_MAX_S} s timeout (exit 28)`);
  const built = await curl(`http://${EDGE_IP}:10255/pods`);
  t.equal(built.status, 502, 'a configured port reaches the server (502 NODE_UNKNOWN: no agent ever attached)');
  t.match(built.headers, /^x-tunnel-error: NODE_UNKNOWN\r?$/im);
  t.equal(await stopServer(before.child), 0, 'SIGTERM: exit 0');

  const server = await startServer([]);
  const fast = await curl(`http://${EDGE_IP}:9999/metrics`);
  t.equal(fast.status, 403, '403 for the unopened port');
  t.match(fast.headers, /^x-tunnel-error: PORT_NOT_CONFIGURED\r?$/im, 'X-Tunnel-Error names the reason');
  t.match(fast.body, /port 9999 on 10\.218\.2\.2 is not configured for the tunnel; add it to dnat-ports-pair/, 'the body says what to change');
  t.ok(fast.seconds < CURL_MAX_S / 10, `answered in ${fast.seconds} s, a tenth of the ${CURL_MAX_S} s the hang lasted`);
  const p22 = await curl(`http://${EDGE_IP}:22/`);
  t.equal(p22.status, 403, 'any TCP port: 22 too');
  t.equal((await curl(`http://${EDGE_IP}:10255/pods`)).status, 502, 'the configured ports keep their answer');

  const tls = await curl(`https://${EDGE_IP}:9443/`);
  t.not(tls.code, 28, `an HTTPS client of an unopened port fails fast (curl exit ${tls.code}), no timeout`);
  t.ok(tls.seconds < CURL_MAX_S / 10, `TLS refused in ${tls.seconds} s`);
  const banner = await rawClient(cloud, `${EDGE_IP}:5432`, 'SSH-2.0-OpenSSH_9.2\r\n');
  t.match(banner, /^HTTP\/1\.1 400 /, 'a non-HTTP client that speaks first is answered 400 and closed');

  const status = JSON.parse((await exec('ip', ['netns', 'exec', cloud, 'curl', '-sS', 'http://127.0.0.1:10265/debug/capture'])).stdout) as Record<
    string,
    unknown
  >;
  t.match(status, { mode: 'iptables', otherPorts: true, nodeIps: [EDGE_IP] }, '/debug/capture shows the catch-all');
  t.equal(await stopServer(server.child), 0, 'SIGTERM: exit 0');
  t.notMatch((await exec('ip', ['netns', 'exec', cloud, 'iptables-save', '-t', 'nat'])).stdout, /EDGE-TUNNEL/, 'shutdown removed the catch-all');
  t.notOk(
    server.lines.find((l) => l['level'] === 50),
    'no error logged',
  );
});

/** A raw TCP client inside `ns` (node -e): writes `send`, returns what came back before the close. */
async function rawClient(ns: string, target: string, send: string): Promise<string> {
  const [host, port] = target.split(':');
  const script =
    `const s=require('net').connect(${Number(port)},${JSON.stringify(host)});let d='';` +
    `s.on('connect',()=>s.write(${JSON.stringify(send)}));s.on('data',(c)=>d+=c);s.on('close',()=>{process.stdout.write(d);process.exit(0)});` +
    `s.on('error',(e)=>{process.stdout.write('error:'+e.code);process.exit(0)});setTimeout(()=>{process.stdout.write('timeout');process.exit(0)},${CURL_MAX_S * 1000});`;
  return (await exec('ip', ['netns', 'exec', ns, process.execPath, '-e', script])).stdout;
}
