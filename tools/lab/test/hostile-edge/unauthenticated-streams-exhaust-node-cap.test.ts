// Attack 4: callers without any credential fill a node's --max-streams-per-node, which every
// listener shared, so kube-apiserver's requests to that node on :10263 got 503 STREAM_LIMIT. Here
// 20 source addresses hold streams open on :10264 (a POST whose body never comes: the stream opens
// with the head and stays open), with --max-streams-per-node 40. Now callers without a credential
// may hold --unauthenticated-stream-share (50 %) of a node's streams and one address
// --source-stream-share (25 %); the excess gets 429 STREAM_QUOTA with Retry-After, counted per
// listener, one warn line naming the flag; kube-apiserver's caller certificate still gets 200.
// Before the quotas (rerun with EDGE_TUNNEL_UNAUTHENTICATED_STREAM_SHARE=100 and
// EDGE_TUNNEL_SOURCE_STREAM_SHARE=100, the old single cap): the attacker held all 40 streams and
// kube-apiserver got 503 STREAM_LIMIT.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { startTestLab } from '../fixtures/lab.js';
import { metaGet, metric, msUntil } from './fixtures/h4.js';

const CAP = 40;
const SUBNET = 233;
const lines: string[] = [];
const lab = await startTestLab(SUBNET, lines, ['--max-streams-per-node', String(CAP)]);
t.teardown(() => lab.close());
const a = lab.nodes[0]!;
const held = new Set<Socket>();
t.teardown(() => held.forEach((s) => s.destroy()));

/** One stream held from `source` (a POST head whose body never comes, or a CONNECT left silent): the answer so far ('' while held). */
function holdStream(source: string, through: 'http' | 'connect'): () => string {
  const s = connect({ host: lab.serverHost, port: lab.ports[through], localAddress: source });
  held.add(s);
  let text = '';
  s.on('data', (b: Buffer) => (text += b.toString('latin1')));
  s.on('error', () => {});
  const target = `${a.ip}:10255`;
  s.write(
    through === 'connect'
      ? `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`
      : `POST /healthz HTTP/1.1\r\nHost: ${target}\r\nContent-Length: 1000000\r\n\r\n`,
  );
  return () => text;
}

/** Opens `n` held streams; resolves once each is either refused or counted open at the node. */
async function holdMany(n: number, sourceOf: (i: number) => string): Promise<{ refused: string[]; held: number }> {
  const before = await openStreams();
  const answers = Array.from({ length: n }, (_, i) => holdStream(sourceOf(i), 'http'));
  const settled = async (): Promise<boolean> => answers.filter((x) => x().includes('\r\n\r\n')).length + (await openStreams()) - before === n;
  await msUntil(settled, 10_000);
  return { refused: answers.map((x) => x()).filter((x) => x !== ''), held: (await openStreams()) - before };
}

/** kube-apiserver on :10263: GET edge-a's /pods with the lab's caller certificate. */
function apiserverPods(): Promise<{ status: number; error?: string }> {
  const pem = (ext: 'crt' | 'key'): string => readFileSync(lab.certs.path('caller', ext), 'utf8');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: lab.serverHost,
        port: lab.ports.https,
        path: '/pods',
        servername: 'localhost',
        agent: false,
        headers: { host: `${a.ip}:10250` },
        ca: readFileSync(lab.certs.path('ca', 'crt'), 'utf8'),
        cert: pem('crt'),
        key: pem('key'),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, error: res.headers['x-tunnel-error'] as string | undefined }));
      },
    );
    req.on('error', reject).end();
  });
}

const openStreams = async (): Promise<number> => {
  const body = JSON.parse((await metaGet(lab.ports.meta, '/debug/tunnels')) ?? '{"nodes":[]}') as { nodes: Array<{ nodeName: string; openStreams?: number }> };
  return body.nodes.find((n) => n.nodeName === a.name)?.openStreams ?? -1;
};
const count = (answers: string[], re: RegExp): number => answers.filter((x) => re.test(x)).length;

t.test('held unauthenticated streams stop at their shares; kube-apiserver still gets 200 on :10263', async (t) => {
  // one address first: it stops at its own share (25 % of 40)
  const one = await holdMany(15, () => `127.0.${SUBNET}.10`);
  t.equal(one.held, 10, 'one source address holds 10 streams open to the node');
  t.equal(count(one.refused, /^HTTP\/1\.1 429 [^]*X-Tunnel-Error: STREAM_QUOTA[^]*Retry-After: 1/i), 5, 'the other 5: 429 STREAM_QUOTA with Retry-After');
  // 19 more addresses, 3 streams each: together they stop at the unauthenticated share (50 %)
  const many = await holdMany(57, (i) => `127.0.${SUBNET}.${11 + (i % 19)}`);
  t.equal(many.held, 10, 'the rest of the unauthenticated share: 10 more');
  t.equal(count(many.refused, /^HTTP\/1\.1 429 [^]*STREAM_QUOTA/), 47, 'every other one refused');
  const connectAnswer = holdStream(`127.0.${SUBNET}.40`, 'connect');
  await msUntil(async () => connectAnswer() !== '', 5_000);
  t.match(connectAnswer(), /^HTTP\/1\.1 429 [^]*X-Tunnel-Error: STREAM_QUOTA/, 'plain CONNECT shares the same unauthenticated share');
  t.equal(await openStreams(), CAP / 2, `${CAP / 2} of ${CAP} streams to ${a.name} are held by the attack`);

  const api = await apiserverPods();
  t.equal(api.status, 200, `kube-apiserver's /pods on :10263 during the attack (before: 503 ${api.error ?? 'STREAM_LIMIT'})`);
  const parallel = await Promise.all(Array.from({ length: 15 }, apiserverPods));
  t.equal(parallel.filter((r) => r.status === 200).length, 15, '15 concurrent kube-apiserver requests: all 200 (the reserved half)');

  const bySource = await metric(lab.ports.meta, 'edge_tunnel_stream_refusals_total{listener="http",quota="source"}');
  const byShare = await metric(lab.ports.meta, 'edge_tunnel_stream_refusals_total{listener="http",quota="unauthenticated"}');
  t.equal(bySource, 5, 'edge_tunnel_stream_refusals_total{http,source}');
  t.equal(byShare, 47, 'edge_tunnel_stream_refusals_total{http,unauthenticated}');
  t.equal(await metric(lab.ports.meta, 'edge_tunnel_stream_refusals_total{listener="connect",quota="unauthenticated"}'), 1, 'the CONNECT refusal, by listener');
  const warns = lines.filter((l) => l.includes('stream refused: unauthenticated stream quota') && l.includes('"listener":"http"'));
  t.equal(warns.length, 1, `one warn line for ${byShare} refusals in the window (rate-limited)`);
  t.match(warns[0], /--unauthenticated-stream-share/, 'it names the flag that raises the quota');

  held.forEach((s) => s.destroy());
  const released = await msUntil(async () => (await openStreams()) === 0, 10_000);
  t.ok(released !== undefined, 'the held streams are released once the attacker goes');
});
