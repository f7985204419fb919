// Port following over a real session (real TLS, the in-test server): the server's CONFIG opens and
// closes node ports live, the --allow-ports ceiling caps it with a warn line naming the flag, a
// malformed or foreign CONFIG changes nothing, and without any CONFIG (an older server) the agent
// allows what it always did.
import t from 'tap';
import { PortSet, agentPortsMessage } from '@edge-tunnel/dnat';
import { waitFor } from './fixtures/agent.js';
import { collect, connected, streamError, target } from './fixtures/harness.js';
import { NODE_IP } from './fixtures/pki.js';

const meta = (port: number, host = NODE_IP) => ({ host, port, kind: 'http' });
const ports = (node: string, rev: number, localhost = '') => agentPortsMessage({ node: PortSet.parse(node), localhost: PortSet.parse(localhost) }, rev);

async function echoes(session: import('@edge-tunnel/framing').Session, port: number): Promise<string> {
  const s = session.open(meta(port));
  s.end('ping');
  return (await collect(s)).toString();
}

t.test('no ceiling: a port the server adds is reachable at once, a removed one refused', async (t) => {
  const echo = await target(t, (s) => s.pipe(s));
  const { session, lines } = await connected(t, { config: { allowPorts: undefined } });
  t.same(session.peerHello?.['portCeiling'], { node: '1-65535', localhost: '' }, 'the hello says: no node-port ceiling, no localhost ports');
  t.match(
    await streamError(session.open(meta(echo.port))),
    { wireCode: 'REFUSED', reason: /is not an allowed node port/ },
    'before any port config: refused, as before',
  );
  t.equal(session.sendConfig(ports(String(echo.port), 1)), true);
  await waitFor(() => lines.some((l) => l.msg === 'server port config applied'), 2000, 'applied line');
  t.equal(await echoes(session, echo.port), 'ping', 'reachable without a restart');
  session.sendConfig(ports('', 2));
  await waitFor(() => lines.filter((l) => l.msg === 'server port config applied').length === 2, 2000, 'second applied line');
  t.match(await streamError(session.open(meta(echo.port))), { wireCode: 'REFUSED', reason: /not a node port in the server's port config \(rev 2\)/ });
  t.match(
    await streamError(session.open(meta(10_250, '127.0.0.9'))),
    { wireCode: 'REFUSED', reason: /not an address of this node/ },
    'foreign hosts stay refused',
  );
});

t.test('a ceiling: the configured port above it is refused with a warn line naming the flag', async (t) => {
  const echo = await target(t, (s) => s.pipe(s));
  const other = await target(t, (s) => s.pipe(s));
  const { session, lines } = await connected(t, { config: { allowPorts: [{ lo: echo.port, hi: echo.port }] } });
  session.sendConfig(ports(`${echo.port},${other.port}`, 1, '10248'));
  await waitFor(() => lines.filter((l) => l.msg === 'configured ports refused by the agent ceiling').length === 2, 2000, 'two warn lines');
  const warns = lines.filter((l) => l.msg === 'configured ports refused by the agent ceiling');
  t.match(warns[0], { level: 40, refusedPorts: String(other.port), ceiling: 'allow-ports', reason: /add them to --allow-ports \(EDGE_TUNNEL_ALLOW_PORTS\)/ });
  t.match(warns[1], { level: 40, refusedPorts: '10248', ceiling: 'localhost-ports' });
  t.equal(await echoes(session, echo.port), 'ping');
  t.match(await streamError(session.open(meta(other.port))), { wireCode: 'REFUSED', reason: /above this agent's --allow-ports ceiling/ });
  session.sendConfig(ports(`${echo.port},${other.port}`, 2, '10248'));
  await new Promise((r) => setTimeout(r, 100));
  t.equal(lines.filter((l) => l.msg === 'configured ports refused by the agent ceiling').length, 2, 'an unchanged config logs no second warning');
});

t.test('malformed and foreign CONFIG messages change nothing; the session stays up', async (t) => {
  const echo = await target(t, (s) => s.pipe(s));
  const { session, lines } = await connected(t, { config: { allowPorts: undefined } });
  session.sendConfig(ports(String(echo.port), 1));
  session.sendConfig({ kind: 'ports', rev: 2, node: 'garbage', localhost: '' });
  session.sendConfig({ kind: 'future-thing', anything: true });
  await waitFor(() => lines.some((l) => l.msg === 'server port config unreadable: keeping the last one'), 2000, 'unreadable line');
  t.equal(await echoes(session, echo.port), 'ping', 'the last good config stays in force');
  t.equal(session.destroyed, false);
});
