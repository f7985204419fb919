// The CONNECT path while it waits for the agent (src/proxy/connect.ts, tunnel.ts `whenOpened`), driven
// by a raw agent that answers OPEN by hand: OPEN_OK gives 200 and a relay, a RESET its status, a lost
// session 503, a caller that reset its connection a CANCEL once the stream opens; fresh trace ids (audit.ts).
import t from 'tap';
import type { Test } from 'tap';
import { connect as netConnect, type Socket } from 'node:net';
import { encodeFrame, ErrorCode, Flag, FrameType } from '@edge-tunnel/framing';
import { startServer, waitFor } from './fixtures/harness.js';
import { helloFrame, rawAgent, type RawAgent } from './fixtures/raw-agent.js';
import { testPki } from './fixtures/pki.js';
import { freshTraceId } from '../src/proxy/audit.js';

const pki = await testPki();
const IP = '127.0.20.14';
const TARGET = `${IP}:10255`;
const server = await startServer(t, pki, ['--connect-addr', '127.0.0.1:0']);

async function attachRawAgent(t: Test): Promise<RawAgent> {
  const cert = await pki.agent('edge-c', [IP]);
  const agent = await rawAgent(server.addr.agent, { cert: cert.certPem, key: cert.keyPem, ca: pki.agentCa.certPem });
  t.teardown(() => void agent.socket.destroy());
  agent.send(helloFrame('edge-c', [IP]));
  await waitFor(() => server.handle.registry.get('edge-c') !== undefined, 2000, 'edge-c attached');
  return agent;
}

/** CONNECT to TARGET; resolves once the OPEN reached the agent, with its stream id and the trace id it carried. */
async function connectPending(agent: RawAgent): Promise<{ caller: Socket; answer: () => string; id: number; traceId: string }> {
  const opens = agent.frames.filter((f) => f.type === FrameType.OPEN).length;
  const caller = netConnect(server.addr.connect!.port, '127.0.0.1');
  let text = '';
  caller.on('data', (b: Buffer) => (text += b.toString()));
  caller.on('error', () => {});
  caller.write(`CONNECT ${TARGET} HTTP/1.1\r\nHost: ${TARGET}\r\n\r\n`);
  await waitFor(() => agent.frames.filter((f) => f.type === FrameType.OPEN).length > opens, 2000, 'OPEN at the agent');
  const open = agent.frames.filter((f) => f.type === FrameType.OPEN).at(-1)!;
  return { caller, answer: () => text, id: open.streamId, traceId: JSON.parse(open.payload.toString()).traceId };
}

const auditOf = (traceId: string): Promise<Record<string, unknown>> => server.logs.waitFor((l) => l['msg'] === 'audit' && l['traceId'] === traceId);
const resetFrame = (id: number, code: number, reason: string): Buffer =>
  encodeFrame(FrameType.RESET, 0, id, Buffer.concat([Buffer.from([code >>> 24, (code >>> 16) & 255, (code >>> 8) & 255, code & 255]), Buffer.from(reason)]));

t.test('fresh trace ids: 16 hex digits, no repeat across several random draws', async (t) => {
  const ids = Array.from({ length: 2_000 }, freshTraceId);
  t.equal(ids.filter((id) => /^[0-9a-f]{16}$/.test(id)).length, ids.length, 'every id is 16 hex digits');
  t.equal(new Set(ids).size, ids.length, 'no id repeats (the pool is refilled every 512)');
});

t.test('OPEN_OK: 200, then bytes both ways; the audit line carries the trace id the agent got', async (t) => {
  const agent = await attachRawAgent(t);
  const { caller, answer, id, traceId } = await connectPending(agent);
  t.equal(answer(), '', 'no answer before OPEN_OK');
  agent.send(encodeFrame(FrameType.OPEN_OK, 0, id));
  await waitFor(() => answer().includes('\r\n\r\n'), 2000, '200');
  t.match(answer(), /^HTTP\/1\.1 200 Connection established\r\n\r\n$/);
  caller.end('ping');
  agent.send(encodeFrame(FrameType.DATA, Flag.FIN, id, Buffer.from('pong')));
  await waitFor(() => answer().endsWith('pong'), 2000, 'pong at the caller');
  t.match(await auditOf(traceId), { listener: 'connect', status: 200, nodeName: 'edge-c', port: 10255, bytesIn: 4, bytesOut: 4 });
});

t.test('RESET before OPEN_OK: the status of its code, and one audit line', async (t) => {
  const agent = await attachRawAgent(t);
  const { answer, id, traceId } = await connectPending(agent);
  agent.send(resetFrame(id, ErrorCode.CONNECT_FAILED, 'dial 127.0.20.14:10255: ECONNREFUSED'));
  await waitFor(() => answer().includes('\r\n\r\n'), 2000, 'the answer');
  t.match(answer(), /^HTTP\/1\.1 502 Bad Gateway\r\n[^]*X-Tunnel-Error: CONNECT_FAILED\r\n/);
  t.notMatch(answer(), /ECONNREFUSED/, "the agent's reason is not for an unauthenticated caller");
  t.match(await auditOf(traceId), { status: 502, reason: 'CONNECT_FAILED', detail: /dial 127\.0\.20\.14:10255: ECONNREFUSED/ });
});

t.test('the session goes before OPEN_OK: 503 SESSION_GONE', async (t) => {
  const agent = await attachRawAgent(t);
  const { answer, traceId } = await connectPending(agent);
  agent.socket.destroy();
  await waitFor(() => answer().includes('\r\n\r\n'), 3000, 'the answer');
  t.match(answer(), /^HTTP\/1\.1 503 [^]*X-Tunnel-Error: SESSION_GONE\r\n/);
  t.match(await auditOf(traceId), { status: 503, reason: 'SESSION_GONE' });
});

t.test('the caller resets its connection before OPEN_OK: the stream is reset CANCEL once it opens, one audit line', async (t) => {
  const agent = await attachRawAgent(t);
  const { caller, id, traceId } = await connectPending(agent);
  caller.resetAndDestroy();
  await new Promise((r) => setTimeout(r, 100));
  agent.send(encodeFrame(FrameType.OPEN_OK, 0, id));
  await waitFor(() => agent.resets().has(id), 2000, 'RESET of the late stream');
  t.equal(agent.resets().get(id)?.code, 'CANCEL');
  t.match(await auditOf(traceId), { listener: 'connect', nodeName: 'edge-c', bytesIn: 0, bytesOut: 0 });
});
