// Attack: an upgrade request the kubelet does not answer 101 (here: an exec on the read-only port),
// with an ordinary request pipelined behind it in the same write. The kubelet's Go server answers the
// refusal and keeps the connection, so a relay that switched to raw bytes at once carried the
// pipelined request to the kubelet without its own routing, checks or audit line. Now the relay holds
// the caller's bytes until the upstream answers 101; any other answer is the caller's last on that
// connection. (Before the fix this test got two responses, the second a PodList.)
import { connect } from 'node:net';
import t from 'tap';
import { startTestLab } from '../fixtures/lab.js';

const lines: string[] = [];
const lab = await startTestLab(206, lines);
t.teardown(() => lab.close());
const node = lab.nodes[0]!;

/** Writes `text` in one write and collects everything until the server closes (or 5 s pass). */
function exchange(text: string): Promise<{ body: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(lab.ports.http, lab.serverHost);
    let body = '';
    const timer = setTimeout(() => { s.destroy(); resolve({ body, closed: false }); }, 5_000);
    s.setEncoding('latin1');
    s.on('data', (d: string) => { body += d; });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(timer); resolve({ body, closed: true }); });
    s.write(text);
  });
}

t.test('a request pipelined behind a refused upgrade never reaches the kubelet', async (t) => {
  const host = `${node.ip}:10255`;
  const upgrade = `GET /exec/default/nope/c?command=id HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n`
    + 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
  const pipelined = `GET /pods HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
  const { body, closed } = await exchange(upgrade + pipelined);
  const statuses = body.match(/HTTP\/1\.1 \d{3}/g) ?? [];
  t.ok(statuses.length >= 1 && !statuses[0]!.endsWith('101'), `the upgrade was refused (${statuses[0]})`);
  t.equal(statuses.length, 1, `one response only (${statuses.join(', ')})`);
  t.notMatch(body, /PodList/, 'no PodList came back for the pipelined request');
  t.ok(closed, 'the server closed the connection after the refusal');
  // the same /pods on its own connection works: the refusal above is the relay's rule, not a dead path
  const alone = await exchange(`GET /pods HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  t.match(alone.body, /PodList/, 'a /pods request of its own is answered');
});
