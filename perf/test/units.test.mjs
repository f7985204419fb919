// The harness's own pieces, without starting chains: statistics, the sink protocol, the link.
import t from 'tap';
import net from 'node:net';
import { deflateSync } from 'node:zlib';
import { churnOnce, connectTo, jain, median, percentile, readFor } from '../lib/client.mjs';
import { header, logText, startSink } from '../lib/sink.mjs';
import { startLink } from '../lib/link.mjs';
import { ratioRows } from '../lib/report.mjs';
import { pairedBulk } from '../lib/paired.mjs';
import { census, censusTable, diffCensus } from '../lib/heap-census.mjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CALLER_IDLE_S, fdsAt, nodeCap } from '../lib/scrape.mjs';

/** @typedef {import('../lib/client.mjs').Endpoint} Endpoint */
/** @param {net.Server} s */
const portOf = (s) => /** @type {net.AddressInfo} */ (s.address()).port;

t.test('percentile and Jain fairness', async (t) => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  t.equal(percentile(xs, 50), 50);
  t.equal(percentile(xs, 99), 99);
  t.equal(jain([5, 5, 5, 5]), 1);
  t.equal(jain([1, 0, 0, 0]), 0.25);
});

t.test('header and log text', async (t) => {
  const h = header('S', 300);
  t.equal(h.length, 9);
  t.equal(h.toString('latin1', 0, 1), 'S');
  t.equal(Number(h.readBigUInt64BE(1)), 300);
  const text = logText(64 * 1024);
  t.equal(text.length, 64 * 1024);
  t.ok(deflateSync(text).length < text.length / 2.5, 'log text compresses well');
});

t.test('sink: echo, source, churn', async (t) => {
  const sink = await startSink('127.0.0.1');
  t.teardown(() => sink.close());
  const ep = { host: '127.0.0.1', port: portOf(sink) };
  await churnOnce(ep, Buffer.alloc(1024, 1));
  const s = await connectTo(ep);
  const r = await readFor(s, { durationMs: 200, sampleMs: 50 });
  t.ok(r.total > 0, 'source delivers bytes');
  t.ok(r.samples.length >= 3);
});

t.test('link: rate limit and delay', async (t) => {
  const sink = await startSink('127.0.0.1');
  const rate = 2e6;
  const link = await startLink({ host: '127.0.0.1', port: portOf(sink), rate, delayMs: 20 });
  t.teardown(() => (link.close(), sink.close()));
  const ep = { host: '127.0.0.1', port: portOf(link) };
  const t0 = performance.now();
  await churnOnce(ep, Buffer.alloc(16));
  t.ok(performance.now() - t0 >= 38, 'two round trips through a 20 ms one-way delay take ≥ 40 ms');
  const r = await readFor(await connectTo(ep), { durationMs: 1000, sampleMs: 100 });
  const mbps = r.samples.slice(3).reduce((a, b) => a + b, 0) / ((r.samples.length - 3) * 0.1);
  t.ok(mbps < rate * 1.3 && mbps > rate * 0.5, `rate-limited to ~${rate} B/s (got ${mbps.toFixed(0)})`);
});

t.test('ratios: subject ÷ every peer on the primary metric', async (t) => {
  const scenario = { metrics: [{ key: 'x', primary: true }] };
  const chains = [
    { name: 'a', kind: 'mux' },
    { name: 'et', kind: 'subject' },
    { name: 'bad', kind: 'mux' },
  ];
  const rows = { a: { x: 2 }, et: { x: 3 }, bad: { error: 'nope' } };
  t.same(ratioRows(scenario, rows, chains), [{ subject: 'et', cells: [{ peer: 'a', ratio: 1.5 }] }]);
});

t.test('heap census: what grew between two snapshots, per unit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'perf-census-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // a small process of its own: snapshots of it are quick to write and to read
  const script = `
    const { writeHeapSnapshot } = await import('node:v8');
    class CensusProbe { constructor(i) { this.i = i; this.tag = 'probe-' + i; } }
    writeHeapSnapshot(process.argv[1] + '/before.heapsnapshot');
    globalThis.kept = Array.from({ length: 500 }, (_, i) => new CensusProbe(i));
    writeHeapSnapshot(process.argv[1] + '/after.heapsnapshot');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, dir], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const diff = diffCensus(census(join(dir, 'before.heapsnapshot')), census(join(dir, 'after.heapsnapshot')), 500, 200);
  const row = diff.rows.find((x) => x.kind === 'object CensusProbe');
  t.ok(row, 'the new class is listed');
  t.equal(row.countPerUnit, 1, 'one object per unit');
  t.ok(row.perUnit >= 16 && row.perUnit <= 64, `self size per object (${row.perUnit} B)`);
  t.ok(diff.total >= row.perUnit, 'the total covers it');
  t.match(censusTable(diff, 'probe'), /\| object CensusProbe \| \d+ \| 1\.00 \|/);
});

t.test('floor mux: streams over one connection, both ways, half-close, reset', async (t) => {
  const { floorMux } = await import('../lib/floor-mux.mjs');
  const { createHash, randomBytes } = await import('node:crypto');
  // every pair of ends is a real loopback TCP connection: [dialed, accepted]
  const server = net.createServer({ allowHalfOpen: true });
  await /** @type {Promise<void>} */ (new Promise((r) => server.listen(0, '127.0.0.1', r)));
  /** @type {net.Socket[]} */
  const all = [];
  const pair = async () => {
    /** @type {Promise<net.Socket>} */
    const accepted = new Promise((r) => server.once('connection', r));
    const dialed = net.connect({ port: portOf(server), host: '127.0.0.1', allowHalfOpen: true });
    const ends = [dialed, await accepted];
    all.push(...ends);
    return ends;
  };
  t.teardown(() => (all.forEach((s) => s.destroy()), server.close()));
  const [a, b] = await pair();
  const targets = [await pair(), await pair(), await pair()]; // the far side's targets, in open order
  const floorMuxTargets = targets.map(([dialed]) => dialed);
  floorMux(b, () => floorMuxTargets.shift());
  const open = floorMux(a);
  const callers = [await pair(), await pair(), await pair()];
  callers.forEach(([, entry]) => open(entry));
  const near = callers.map(([client]) => client);
  const far = targets.map(([, target]) => target);
  const payloads = near.map(() => randomBytes(300_000));
  const sha = (/** @type {Buffer} */ buf) => createHash('sha256').update(buf).digest('hex');
  const collect = (/** @type {net.Socket} */ s) =>
    /** @type {Promise<Buffer>} */ (
      new Promise((r) => {
        /** @type {Buffer[]} */
        const parts = [];
        s.on('data', (/** @type {Buffer} */ c) => parts.push(c));
        s.on('end', () => r(Buffer.concat(parts)));
      })
    );
  const got = Promise.all(far.map(collect));
  near.forEach((s, i) => s.end(payloads[i]));
  t.same((await got).map(sha), payloads.map(sha), 'every stream arrives whole, on its own stream');
  const back = collect(near[0]);
  far[0].end(Buffer.from('reply'));
  t.equal((await back).toString(), 'reply', 'after one side ended, the other still sends');
  // a caller that resets its connection mid-stream: the target's connection is closed too
  const [client, entry] = await pair();
  const [target, targetPeer] = await pair();
  floorMuxTargets.push(target);
  open(entry);
  client.write('x');
  await new Promise((r) => targetPeer.once('data', r));
  const ended = new Promise((r) => targetPeer.once('end', r));
  client.resetAndDestroy();
  await ended;
  t.pass('a reset caller closes the target connection');
});

t.test('targets: a miss the floor shares is out of reach, one it meets is not', async (t) => {
  const { evaluateTargets, verdict } = await import('../lib/targets.mjs');
  /** @typedef {import('../lib/scenarios.mjs').Row} Row */
  const rows = (/** @type {Row} */ et, /** @type {Row} */ floor) => ({ rows: { 'edge-tunnel': et, floor } });
  const res = { scenarios: { churn: rows({ perSec: 1000 }, { perSec: 1200 }), idle: rows({ maxHeapPerStream: 4000 }, { maxHeapPerStream: 1300 }) } };
  const by = Object.fromEntries(evaluateTargets(res).map((x) => [x.name, x]));
  t.match(by['churn streams/s'], { value: 1000, floor: 1200, met: false, reachable: false });
  t.match(verdict(by['churn streams/s']), /out of reach/);
  t.match(by['heap per idle stream, worst process (B)'], { met: false, reachable: true });
  t.equal(verdict(by['heap per idle stream, worst process (B)']), '**no**');
  t.equal(by['RSS per idle agent session (B)'].met, undefined, 'no number, no verdict');
  t.match(by['churn streams/s ÷ floor'], { value: 1000 / 1200, met: false }, 'churn against the floor of the same run');
  t.equal(by['multi16 aggregate MB/s ÷ floor'].met, undefined, 'a run without multi16 has no verdict for it');
  const bulk = evaluateTargets({ scenarios: { multi16: rows({ mbps: 95 }, { mbps: 100 }) } });
  t.match(
    bulk.find((x) => x.name === 'multi16 aggregate MB/s ÷ floor'),
    { value: 0.95, met: true },
  );
});

t.test('paired phases: the order flips every round, ratios are per round, then the median', async (t) => {
  /** @type {string[]} */
  const order = [];
  // a drifting machine: every phase is 10 % slower than the one before; a is really 0.9 × b
  let speed = 100;
  /** @param {Endpoint & { id?: string }} endpoint a fake one: only its id is read */
  const measure = async (endpoint) => {
    order.push(endpoint.id);
    speed *= 0.9;
    return endpoint.id === 'a' ? 0.9 * speed : speed;
  };
  const fake = (/** @type {string} */ id) => /** @type {Endpoint & { id: string }} */ (/** @type {unknown} */ ({ id }));
  const res = await pairedBulk({ name: 'lz4', endpoint: fake('a') }, { name: 'plain', endpoint: fake('b') }, { rounds: 4, warmMs: 0, durMs: 0, measure });
  t.same(order, ['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a'], 'a first, then b first, …');
  t.equal(res.lz4.ratios.length, 4);
  // the drift favours whoever runs first in a round: 0.9 / 0.9 = 1.0 vs 0.9 × 0.9 / 1 = 0.81; the median
  // of per-round ratios sits between, the sequential comparison (all a, then all b) would not
  t.ok(res.lz4.ratio > 0.8 && res.lz4.ratio < 1.0, `median ratio ${res.lz4.ratio.toFixed(3)}`);
  t.equal(res.lz4.ratio, median(res.lz4.ratios));
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(res.plain.rounds, 4);
});

t.test('following agents: until() resolves once every agent applied the change; port shapes', async (t) => {
  const { EventEmitter } = await import('node:events');
  const tls = await import('node:tls');
  const { parsePortConfig } = await import('@edge-tunnel/dnat');
  const { Session } = await import('@edge-tunnel/framing');
  const { PortAnnouncer } = await import('@edge-tunnel/server');
  const { makeCerts } = await import('../lib/certs.mjs');
  const { connectFollowers, portEntries } = await import('../lib/follow-agents.mjs');
  const consecutive = portEntries('consecutive', 5, 1);
  t.same(consecutive, [20000, 20001, 20002, 20003, 20004]);
  const scattered = portEntries('scattered', 500, 7);
  t.equal(new Set(scattered).size, 500, 'scattered ports are distinct');
  t.notOk(
    scattered.some((p) => p === 10264 || p < 1 || p > 65535),
    'and never a server port',
  );
  t.same(portEntries('scattered', 500, 7), scattered, 'the same seed, the same ports');

  const dir = mkdtempSync(join(tmpdir(), 'perf-follow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const certs = await makeCerts(dir, []);
  const source = Object.assign(new EventEmitter(), {
    state: { config: parsePortConfig({}).config, rejected: [] },
    current() {
      return this.state;
    },
    close() {},
  });
  const silent = {
    debug() {},
    info() {},
    warn() {},
    error() {},
    child() {
      return silent;
    },
  };
  // stubs: the source's state and the logger carry only what the announcer reads
  const announcer = new PortAnnouncer(
    /** @type {import('@edge-tunnel/server').PortConfigSource} */ (/** @type {unknown} */ (source)),
    /** @type {ConstructorParameters<typeof PortAnnouncer>[1]} */ (/** @type {unknown} */ (silent)),
  );
  /** @type {{ session: import('@edge-tunnel/framing').Session }[]} */
  const sessions = [];
  const server = tls.createServer({ cert: certs.server.certPem, key: certs.server.keyPem }, (socket) => {
    const session = new Session(socket, { role: 'server', keepaliveIntervalMs: 600_000, keepaliveTimeoutMs: 1_200_000 });
    session.ready.then(
      (hello) => {
        const a = { nodeName: hello.nodeName, session, ports: {} };
        sessions.push(a);
        announcer.attach(/** @type {Parameters<typeof announcer.attach>[0]} */ (/** @type {unknown} */ (a)));
      },
      () => {},
    );
  });
  await /** @type {Promise<void>} */ (new Promise((r) => server.listen(0, '127.0.0.1', r)));
  t.teardown(() => {
    followers.close();
    for (const s of sessions) s.session.destroy();
    server.close();
    announcer.close();
  });
  const followers = await connectFollowers({
    host: '127.0.0.1',
    port: portOf(server),
    ca: certs.caPem,
    n: 3,
    batch: 2,
    identity: (i) => ({ name: `n${i}`, ip: '10.0.0.1' }),
  });
  await followers.until((a) => a.rev >= 1);
  t.equal(followers.agents.length, 3);
  t.notOk(
    followers.agents.some((a) => followers.allows(a, 9053)),
    '9053 not configured yet',
  );
  const all = followers.until((a) => followers.allows(a, 9053));
  source.state = { config: parsePortConfig({ 'dnat-ports-pair': '9053=10264' }).config, rejected: [] };
  source.emit('change', source.state);
  const lastAt = await all;
  t.ok(
    followers.agents.every((a) => followers.allows(a, 9053) && a.at <= lastAt),
    "resolved with the last agent's time, all following",
  );
  t.equal(await followers.until((a) => followers.allows(a, 9053)), lastAt, 'already true: resolves at once');
});

t.test('scrape: descriptors the server needs, and the node cap that fits a limit', async (t) => {
  // an agent socket per node, plus the callers scraped within the server's idle timeout (at most one per node)
  t.equal(fdsAt(10_000, 10_000 / 15), 10_000 + Math.ceil((10_000 / 15) * CALLER_IDLE_S));
  t.equal(fdsAt(1_000, 10_000), 2_000, 'never more than one caller per node');
  const budget = 20_000 - 256;
  t.equal(nodeCap(10_000 / 15, budget), budget - 4_000, '10 000 nodes at 667/s fit a 20 000 limit');
  t.ok(nodeCap(10_000 / 15, budget) >= 10_000);
  t.equal(nodeCap(100_000, budget), Math.floor(budget / 2), 'at a rate that keeps every caller open: half the budget');
  for (const rate of [10, 667, 1334, 5000, 50_000]) t.ok(fdsAt(nodeCap(rate, budget), rate) <= budget, `the cap fits at ${rate}/s`);
});
