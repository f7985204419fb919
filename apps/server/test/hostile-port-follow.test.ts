// Hostile agents against port following: CONFIG frames sent to the server (which takes none), a
// hello with a malformed port ceiling, and an agent announcing a CONFIG limit too small for its
// ports. Each is refused or contained with a log line; a legitimate agent keeps carrying requests.
// Node IPs 127.0.140.2x (this suite's loopback range).
import t from 'tap';
import { encodeFrame, FrameType, Setting } from '@edge-tunnel/framing';
import { meta, send, startNode, startServer, waitFor } from './fixtures/harness.js';
import { rawAgent, settingsFrame } from './fixtures/raw-agent.js';
import type { RawAgent } from './fixtures/raw-agent.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
const server = await startServer(t, pki);
await startNode(t, pki, server, 'edge-ok', '127.0.140.20');
const legit = async (): Promise<number> => (await send(server.addr.http, { path: '/healthz', headers: { host: '127.0.140.20:10255' } })).status;

async function agentWith(node: string, ip: string, values: Record<number, number>, hello: Record<string, unknown>): Promise<RawAgent> {
  const cert = await pki.agent(node, [ip]);
  const agent = await rawAgent(server.addr.agent, { cert: cert.certPem, key: cert.keyPem, ca: pki.agentCa.certPem });
  t.teardown(() => void agent.socket.destroy());
  agent.send(
    settingsFrame(
      { [Setting.MAX_FRAME_SIZE]: 16_372, [Setting.INITIAL_WINDOW]: 256 * 1024, [Setting.MAX_STREAMS]: 1024, [Setting.VERSION]: 1, ...values },
      { nodeName: node, nodeIps: [ip], version: 1, agentVersion: 'raw-0', ...hello },
    ),
  );
  await waitFor(() => agent.frames.some((f) => f.type === FrameType.SETTINGS) || agent.socket.destroyed, 3000, 'server SETTINGS');
  return agent;
}

t.test('an agent sending CONFIG to the server (which announced none): GOAWAY PROTOCOL_ERROR, others unaffected', async (t) => {
  const agent = await agentWith('edge-h1', '127.0.140.21', {}, {});
  await waitFor(() => server.handle.registry.get('edge-h1') !== undefined, 3000, 'attached');
  agent.send(encodeFrame(FrameType.CONFIG, 0, 0, Buffer.from(JSON.stringify({ kind: 'ports', rev: 1, node: '1-65535', localhost: '1-65535' }))));
  await agent.closed;
  t.equal(agent.goAway()?.code, 'PROTOCOL_ERROR');
  t.match(agent.goAway()?.reason, /CONFIG frame, but this side announced no CONFIG setting/);
  t.match(await server.logs.waitFor((l) => l['msg'] === 'peer protocol error' && /CONFIG/.test(String(l['reason']))), { level: 40 });
  t.equal(await legit(), 200, 'the legitimate agent still answers');
});

t.test('a malformed port ceiling in the hello is ignored (unknown ceiling), the agent still attaches', async (t) => {
  const agent = await agentWith('edge-h2', '127.0.140.22', {}, { portCeiling: { node: 'x'.repeat(5000), localhost: 42 } });
  await waitFor(() => server.handle.registry.get('edge-h2') !== undefined, 3000, 'attached');
  t.equal(server.handle.registry.get('edge-h2')!.portCeiling, undefined, 'no ceiling taken from it');
  t.equal(agent.socket.destroyed, false);
  const node = ((await meta(server, '/debug/tunnels')).json().nodes as Array<Record<string, unknown>>).find((n) => n['nodeName'] === 'edge-h2');
  t.match(node, { connected: true, followsPortConfig: false });
});

t.test('an agent announcing a CONFIG limit below its ports message: not sent, an error line, the session stays', async (t) => {
  const agent = await agentWith('edge-h3', '127.0.140.23', { [Setting.CONFIG]: 16 }, {});
  await server.logs.waitFor((l) => l['msg'] === 'port config not sent' && l['nodeName'] === 'edge-h3');
  t.notOk(
    agent.frames.some((f) => f.type === FrameType.CONFIG),
    'no CONFIG above the announced limit',
  );
  t.equal(agent.socket.destroyed, false);
  t.equal(await legit(), 200);
});
