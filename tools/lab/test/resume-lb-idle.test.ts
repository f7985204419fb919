// Issue 17: an LB idle-timeout reset. Debian's haproxy in `mode tcp` sits between the agents and the
// server with `timeout client`/`timeout server` of 3 s, shorter than the agent's default keepalive
// interval (10 s), so it closes the agent's connection whenever the tunnel is idle for 3 s (both
// ways, as a cloud load balancer's idle timeout does). A raw stream (CONNECT to an echo target on
// the node) is open and goes quiet for longer than that, three times. The replica advertises haproxy's
// address, so every redial, resumes included, passes through haproxy (an agent that can reach the
// replica's own address resumes there, past the load balancer, and meets its idle timeout only once):
//  - default keepalive: every quiet spell costs a connection, the session resumes through haproxy
//    on a new one and the stream carries on with every byte once and in order;
//  - the agent's --keepalive-interval-ms below the idle timeout (what the agent README tells an
//    operator to set): the PINGs keep the connection busy, haproxy never closes it, no resume;
//  - the replica advertising its own listener (the lab's default): the first quiet spell costs a
//    resume, which goes to that listener past haproxy; the second costs nothing.
import t, { type Test } from 'tap';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startLab, type LabHandle } from '../src/index.js';
import { sh } from './fixtures/lab.js';
import { startHaproxy, tcpHop, type Haproxy } from './fixtures/haproxy.js';

const haveHaproxy = (await sh('command -v haproxy')).code === 0;
const skip = haveHaproxy ? false : 'haproxy not installed (apt-get install haproxy)';
const IDLE_TIMEOUT_S = 3;
const QUIET_MS = (IDLE_TIMEOUT_S + 2) * 1000;
const SUBNET = 177;

interface Hop {
  lab: LabHandle;
  haproxyLog: () => string;
  lines: string[];
  hop: string;
}

async function labBehindHaproxy(t: Test, nodeIp: string, agentArgs: string[], advertiseHop = true): Promise<Hop> {
  const lines: string[] = [];
  const hopPort = await freePort();
  const agentPort = await freePort();
  let haproxy: Haproxy | undefined;
  const lab = await startLab({
    nodes: [{ name: 'edge-a', ip: nodeIp }],
    ports: { agent: agentPort, https: await freePort(), http: await freePort(), meta: await freePort(), connect: await freePort(), exporter: 9100 },
    pretty: false,
    log: (line) => lines.push(line),
    agentServerAddr: `127.0.0.1:${hopPort}`,
    // The replica advertises haproxy's address: haproxy is the agent's only way in, as behind a cloud
    // load balancer. Without it the resume goes to the replica's own listener, and past haproxy.
    serverArgs: advertiseHop ? ['--advertise-addr', `127.0.0.1:${hopPort}`] : [],
    agentArgs,
    onCerts: async (dir: string) => {
      haproxy = await startHaproxy(dir, 'haproxy-tcp', tcpHop(hopPort, agentPort, IDLE_TIMEOUT_S));
    },
  });
  t.teardown(async () => {
    await lab.close();
    haproxy?.stop();
  });
  t.teardown(() => {
    if (!t.passing()) console.error([...lines.slice(-60), haproxy?.log()].join('\n'));
  });
  return { lab, haproxyLog: () => haproxy?.log() ?? '', lines, hop: `127.0.0.1:${hopPort}` };
}

/** An echo target on the node, opened in the lab's port config; a CONNECT stream to it. */
async function echoStream(t: Test, lab: LabHandle): Promise<{ say(s: string): Promise<boolean>; targets: Socket[] }> {
  const node = lab.nodes[0]!;
  const targets: Socket[] = [];
  const echo = createServer({ allowHalfOpen: true }, (s) => (targets.push(s), s.on('error', () => {}), s.pipe(s)));
  echo.listen(0, node.ip);
  await once(echo, 'listening');
  t.teardown(() => echo.close());
  const port = (echo.address() as AddressInfo).port;
  await writeFile(lab.configPath, `dnat-ports-pair: '9100=10264,${port}=10264'\n`);
  let caller: Socket | undefined;
  let got = '';
  for (let i = 0; i < 40 && !got.startsWith('HTTP/1.1 200'); i++) {
    caller?.destroy();
    got = '';
    const c = connect(lab.ports.connect, lab.serverHost);
    caller = c;
    c.on('error', () => {});
    c.setEncoding('latin1').on('data', (d: string) => (got += d));
    c.write(`CONNECT ${node.ip}:${port} HTTP/1.1\r\nHost: ${node.ip}:${port}\r\n\r\n`);
    for (let w = 0; w < 200 && !got.includes('\r\n\r\n') && !c.destroyed; w++) await sleep(25);
    if (!got.startsWith('HTTP/1.1 200')) await sleep(250);
  }
  t.match(got, /^HTTP\/1\.1 200/, 'the CONNECT stream is open');
  t.teardown(() => caller?.destroy());
  got = '';
  let sent = '';
  return {
    targets,
    /** writes `s`, resolves whether everything sent so far came back, once and in order, within 10 s */
    async say(s: string) {
      sent += s;
      caller!.write(s);
      for (let w = 0; w < 400 && got.length < sent.length; w++) await sleep(25);
      return got === sent;
    },
  };
}

const count = (lines: string[], msg: string): number => lines.filter((l) => l.includes(msg)).length;

t.test(
  `haproxy (mode tcp, idle timeout ${IDLE_TIMEOUT_S} s) closes the idle agent connection: the session resumes through it, the stream continues intact`,
  { skip },
  async (t) => {
    const { lab, haproxyLog, lines, hop } = await labBehindHaproxy(t, `127.0.${SUBNET}.1`, []);
    const stream = await echoStream(t, lab);
    t.ok(await stream.say('before\n'), 'echo before the quiet spells');
    for (let i = 1; i <= 3; i++) {
      const resumedBefore = count(lines, 'agent session resumed');
      await sleep(QUIET_MS);
      for (let w = 0; w < 200 && count(lines, 'agent session resumed') === resumedBefore; w++) await sleep(25);
      t.ok(count(lines, 'agent session resumed') > resumedBefore, `quiet spell ${i}: haproxy closed the connection, the session resumed`);
      t.ok(await stream.say(`after spell ${i}: ${'x'.repeat(1000 * i)}\n`), `quiet spell ${i}: the stream carries on, every byte once and in order`);
    }
    t.equal(stream.targets.length, 1, 'one target connection: the same stream throughout');
    t.equal(count(lines, 'agent attached'), 1, 'one session: never a new one');
    t.equal(count(lines, 'session lost'), 0, 'the agent never lost the session');
    const resumedFrom = lines.filter((l) => l.includes('connection lost: resuming')).map((l) => /"serverAddr":"([^"]+)"/.exec(l)?.[1]);
    t.same(new Set(resumedFrom), new Set([hop]), 'every connection went through haproxy');
    // tcplog: "… tunnel tunnel/s1 …/…/… <bytes> cD" — the termination state of an idle timeout
    const timeouts = haproxyLog()
      .split('\n')
      .filter((l) => / [cs]D /.test(l)).length;
    t.ok(timeouts >= 3, `haproxy logged ${timeouts} connections ended by its idle timeout (cD/sD)`);
    const resumed = lines.filter((l) => l.includes('agent session resumed')).map((l) => /"pausedMs":(\d+)/.exec(l)?.[1]);
    t.comment(`server pausedMs per resume: ${resumed.join(', ')}`);
  },
);

t.test(`the agent's keepalive interval below the idle timeout: haproxy never closes the connection`, { skip }, async (t) => {
  const { lab, haproxyLog, lines } = await labBehindHaproxy(t, `127.0.${SUBNET}.2`, ['--keepalive-interval-ms', '1000']);
  const stream = await echoStream(t, lab);
  t.ok(await stream.say('before\n'), 'echo before the quiet spells');
  for (let i = 1; i <= 2; i++) {
    await sleep(QUIET_MS);
    t.ok(await stream.say(`after spell ${i}\n`), `quiet spell ${i}: the stream answers`);
  }
  t.equal(count(lines, 'agent connection lost'), 0, 'the connection was never lost');
  t.equal(count(lines, 'agent session resumed'), 0, 'nothing to resume');
  t.equal(
    haproxyLog()
      .split('\n')
      .filter((l) => / [cs]D /.test(l)).length,
    0,
    'haproxy closed nothing for idleness',
  );
});

t.test(`the replica's own address reachable: the resume goes there, past haproxy, whose idle timeout then strikes no more`, { skip }, async (t) => {
  const { lab, haproxyLog, lines, hop } = await labBehindHaproxy(t, `127.0.${SUBNET}.3`, [], false);
  const stream = await echoStream(t, lab);
  t.ok(await stream.say('before\n'), 'echo before the quiet spells');
  for (let i = 1; i <= 2; i++) {
    await sleep(QUIET_MS);
    for (let w = 0; w < 200 && count(lines, 'agent session resumed') === 0; w++) await sleep(25);
    t.ok(await stream.say(`after spell ${i}\n`), `quiet spell ${i}: the stream carries on, every byte once and in order`);
  }
  const lost = lines.filter((l) => l.includes('connection lost: resuming')).map((l) => /"serverAddr":"([^"]+)"/.exec(l)?.[1]);
  t.same(lost, [hop], 'one connection lost, the first, through haproxy');
  t.equal(count(lines, 'agent session resumed'), 1, 'one resume: the second quiet spell cost nothing');
  t.equal(count(lines, 'agent attached'), 1, 'one session');
  t.equal(
    haproxyLog()
      .split('\n')
      .filter((l) => / [cs]D /.test(l)).length,
    1,
    'haproxy closed one connection for idleness: the resumed one does not cross it',
  );
});
