import t from 'tap';
import { Channel, MISS_STATUS, MissReason, NodeTable, parsePortConfig, resolve } from '../src/index.js';
import type { Miss, Resolution } from '../src/index.js';

interface Session {
  id: string;
}
const config = parsePortConfig({
  'dnat-ports-pair': '9051=10264',
  'https-proxy-ports': '9443,9200',
  'localhost-proxy-ports': '9200,9300',
  'http-proxy-ports': '9300',
}).config;

function table(): NodeTable<Session> {
  const nodes = new NodeTable<Session>();
  nodes.attach('edge-1', { id: 's1' }, ['10.0.0.5', 'fd00::5']);
  nodes.upsertNode('edge-2', ['10.0.0.6']);
  nodes.attach('edge-3', { id: 's3' });
  return nodes;
}

t.test('resolutions', async (t) => {
  const cases: Array<[string, number, Channel, Partial<Resolution<Session>>]> = [
    ['10.0.0.5', 10250, 'https', { nodeName: 'edge-1', targetHost: '10.0.0.5', targetPort: 10250 }],
    ['10.0.0.5', 10255, 'http', { nodeName: 'edge-1', targetHost: '10.0.0.5', targetPort: 10255 }],
    ['fd00::5', 10250, 'https', { nodeName: 'edge-1', targetHost: 'fd00::5' }],
    ['[FD00:0::5]', 10250, 'https', { nodeName: 'edge-1', targetHost: 'fd00::5' }],
    ['edge-1', 10250, 'https', { nodeName: 'edge-1', targetHost: '10.0.0.5' }],
    ['EDGE-1', 9051, 'http', { nodeName: 'edge-1', targetHost: '10.0.0.5', targetPort: 9051 }],
    ['10.0.0.5', 9443, 'https', { targetHost: '10.0.0.5', channel: 'https' }],
    ['fd00::5', 9200, 'https', { targetHost: '127.0.0.1', targetPort: 9200 }],
    ['10.0.0.5', 9300, 'http', { targetHost: '127.0.0.1', channel: 'http' }],
    ['edge-3', 9200, 'https', { nodeName: 'edge-3', targetHost: '127.0.0.1' }],
  ];
  const nodes = table();
  for (const [host, port, channel, expected] of cases) {
    const r = resolve(nodes, config, { host, port }, channel);
    t.match(r, { ok: true, channel, targetPort: port, ...expected }, `${host}:${port} on ${channel}`);
    if (r.ok) t.equal(r.session.id, r.nodeName === 'edge-1' ? 's1' : 's3', 'the node session');
  }
});

t.test('every miss reason with its status', async (t) => {
  const cases: Array<[string, number, Channel, MissReason, number]> = [
    ['10.0.0.9', 10250, 'https', MissReason.NODE_UNKNOWN, 502],
    ['edge-9', 10250, 'https', MissReason.NODE_UNKNOWN, 502],
    ['not a host!', 10250, 'https', MissReason.NODE_UNKNOWN, 502],
    ['10.0.0.6', 10250, 'https', MissReason.NO_TUNNEL, 503],
    ['edge-2', 9051, 'http', MissReason.NO_TUNNEL, 503],
    ['10.0.0.5', 9100, 'http', MissReason.PORT_NOT_CONFIGURED, 403],
    ['10.0.0.5', 0, 'http', MissReason.PORT_NOT_CONFIGURED, 403],
    ['10.0.0.5', 70000, 'https', MissReason.PORT_NOT_CONFIGURED, 403],
    ['10.0.0.5', 10264, 'http', MissReason.PORT_NOT_CONFIGURED, 403],
    ['10.0.0.5', 10250, 'http', MissReason.WRONG_CHANNEL, 421],
    ['10.0.0.5', 10255, 'https', MissReason.WRONG_CHANNEL, 421],
    ['10.0.0.5', 9051, 'https', MissReason.WRONG_CHANNEL, 421],
    ['10.0.0.5', 9443, 'http', MissReason.WRONG_CHANNEL, 421],
    ['edge-3', 10250, 'https', MissReason.NODE_NO_ADDRESS, 502],
  ];
  const nodes = table();
  for (const [host, port, channel, reason, status] of cases) {
    const r = resolve(nodes, config, { host, port }, channel) as Miss;
    t.match(r, { ok: false, reason, status }, `${host}:${port} on ${channel} → ${reason}`);
    t.equal(MISS_STATUS[reason], status);
    t.ok(r.message.includes(String(port)), 'message names the port');
    t.ok(r.message.includes(host) || r.message.includes('edge-'), 'message names the host or node');
  }
});

t.test('miss messages point at the fix', async (t) => {
  const nodes = table();
  const notConfigured = resolve(nodes, config, { host: '10.0.0.5', port: 9100 }, 'http') as Miss;
  t.match(notConfigured.message, /dnat-ports-pair/);
  t.match(notConfigured.message, /https-proxy-ports/);
  t.match(notConfigured.message, /edge-tunnel-server-cfg/);
  const wrong = resolve(nodes, config, { host: '10.0.0.5', port: 10250 }, 'http') as Miss;
  t.match(wrong.message, /10263/);
});

t.test('configuration misses come before node state (no node enumeration)', async (t) => {
  const nodes = table();
  t.match(resolve(nodes, config, { host: '10.0.0.9', port: 9100 }, 'http'), { reason: 'PORT_NOT_CONFIGURED' });
  t.match(resolve(nodes, config, { host: '10.0.0.9', port: 10250 }, 'http'), { reason: 'WRONG_CHANNEL' });
  t.match(resolve(nodes, config, { host: 'edge-2', port: 10250 }, 'http'), { reason: 'WRONG_CHANNEL' });
});

t.test('resolution follows the table as sessions come and go', async (t) => {
  const nodes = table();
  const dest = { host: 'edge-1', port: 10250 };
  nodes.attach('edge-1', { id: 's1b' });
  t.match(resolve(nodes, config, dest, 'https'), { ok: true, session: { id: 's1b' } });
  nodes.detach('edge-1', { id: 's1b' });
  t.match(resolve(nodes, config, dest, 'https'), { ok: true }, 'a different object does not detach');
  nodes.detach('edge-1', nodes.sessionOf('edge-1')!);
  t.match(resolve(nodes, config, dest, 'https'), { ok: false, reason: 'NO_TUNNEL' });
  nodes.upsertNode('edge-2', ['10.0.0.5']);
  t.match(
    resolve(nodes, config, { host: '10.0.0.5', port: 10250 }, 'https'),
    { ok: false, reason: 'NODE_UNKNOWN' },
    'an IP edge-2 claims too is routed to neither node',
  );
  nodes.attach('edge-1', { id: 's1c' });
  t.match(resolve(nodes, config, { host: 'edge-1', port: 10250 }, 'https'), { ok: true, targetHost: 'fd00::5' }, 'by name: the first remaining IP');
});
