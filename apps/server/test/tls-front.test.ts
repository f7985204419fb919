// The accept path of the TLS listeners (accept/): the first-record check, the ClientHello gate
// (deadline, not-TLS, eviction of the oldest, bytes handed on intact), per-source caps, the
// rate-limited refusal report, and the agent pacer's bounded queue.
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { ClientHelloGate, firstRecordMissing } from '../src/accept/client-hello-gate.js';
import { RefusalReporter } from '../src/accept/refusals.js';
import type { TlsRefusal } from '../src/accept/refusals.js';
import { SourceCaps } from '../src/accept/source-caps.js';
import { HandshakePacer } from '../src/agents/handshake-pacer.js';

const record = (len: number): Buffer => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, len >> 8, len & 0xff]), Buffer.alloc(len, 1)]);

t.test('firstRecordMissing: complete, partial, not TLS', async (t) => {
  t.equal(firstRecordMissing(Buffer.alloc(0)), 5);
  t.equal(firstRecordMissing(Buffer.from([0x16, 0x03])), 3);
  t.equal(firstRecordMissing(record(100).subarray(0, 50)), 55);
  t.equal(firstRecordMissing(record(100)), 0);
  t.equal(firstRecordMissing(Buffer.from('GET / HTTP/1.1\r\n')), -1, 'plain HTTP');
  t.equal(firstRecordMissing(Buffer.from([0x16, 0x01])), -1, 'not a TLS version');
  t.equal(firstRecordMissing(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff])), -1, 'a record longer than TLS allows');
  t.equal(firstRecordMissing(Buffer.from([0x16, 0x03, 0x01, 0, 0])), -1, 'an empty record');
});

/** A TCP server whose accepted (paused) connections go through a gate; what passed and what was refused. */
async function gated(t: Test, opts: { timeoutMs: number; max: number }) {
  const passed: Buffer[] = [];
  const refused: TlsRefusal[] = [];
  const gate = new ClientHelloGate(
    opts,
    (s) => {
      s.on('data', (b: Buffer) => passed.push(b));
      s.resume();
    },
    (_s, reason) => refused.push(reason),
  );
  const server: Server = createServer({ pauseOnConnect: true }, (s) => gate.admit(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    gate.dropAll();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const dial = async (): Promise<Socket> => {
    const c = connect(port, '127.0.0.1');
    c.on('error', () => {});
    await new Promise((r) => c.once('connect', r));
    t.teardown(() => void c.destroy());
    return c;
  };
  return { gate, passed, refused, dial };
}

t.test('gate: a complete first record passes with its bytes intact, even when sent in pieces', async (t) => {
  const g = await gated(t, { timeoutMs: 2_000, max: 10 });
  const c = await g.dial();
  const rec = record(300);
  c.write(rec.subarray(0, 3));
  await sleep(50);
  t.equal(g.gate.size, 1, 'waiting while the record is partial');
  c.write(rec.subarray(3));
  c.write('after');
  await sleep(100);
  t.equal(g.gate.size, 0);
  t.same(Buffer.concat(g.passed), Buffer.concat([rec, Buffer.from('after')]), 'the next stage reads every byte, in order');
  t.same(g.refused, []);
});

t.test('gate: a passed connection keeps none of the gate’s listeners (an agent session holds its socket for hours)', async (t) => {
  const events = ['close', 'readable', 'error', 'end', 'data'] as const;
  const counts = (s: Socket): number[] => events.map((e) => s.listenerCount(e));
  let before: number[] = [];
  const passed = new Promise<Socket>((resolve) => {
    const gate = new ClientHelloGate({ timeoutMs: 2_000, max: 10 }, resolve, () => {});
    const server: Server = createServer({ pauseOnConnect: true }, (s) => {
      before = counts(s);
      gate.admit(s);
    });
    server.listen(0, '127.0.0.1', () => {
      const c = connect((server.address() as { port: number }).port, '127.0.0.1');
      c.on('error', () => {});
      c.write(record(300));
      t.teardown(() => {
        c.destroy();
        server.close();
      });
    });
  });
  const s = await passed;
  t.same(counts(s), before, `listeners of ${events.join(', ')} as before admit()`);
});

t.test('gate: silence past the deadline, and non-TLS bytes, are refused and closed', async (t) => {
  const g = await gated(t, { timeoutMs: 150, max: 10 });
  const silent = await g.dial();
  const http = await g.dial();
  http.write('GET / HTTP/1.1\r\n\r\n');
  const closed = (s: Socket) => new Promise((r) => s.once('close', r));
  await Promise.all([closed(silent), closed(http)]);
  t.same(g.refused.sort(), ['client_hello_timeout', 'not_tls']);
  t.equal(g.gate.size, 0);
});

t.test('gate: when full, the oldest waiting connection is closed for a new one', async (t) => {
  const g = await gated(t, { timeoutMs: 5_000, max: 2 });
  const first = await g.dial();
  await sleep(30);
  await g.dial();
  await sleep(30);
  const third = await g.dial();
  await new Promise((r) => first.once('close', r));
  t.same(g.refused, ['evicted']);
  third.write(record(10));
  await sleep(100);
  t.equal(g.passed.length, 1, 'the newest passes once its ClientHello is in');
});

t.test('per-source caps: at most `cap` per address, released; 0 admits all', async (t) => {
  const caps = new SourceCaps(2);
  t.ok(caps.take('a'));
  t.ok(caps.take('a'));
  t.notOk(caps.take('a'), 'the third of one address is refused');
  t.ok(caps.take('b'), 'another address is not');
  caps.release('a');
  t.ok(caps.take('a'), 'a released slot is free again');
  t.equal(caps.sources, 2);
  const off = new SourceCaps(0);
  t.ok(Array.from({ length: 1000 }, () => off.take('a')).every(Boolean), 'no cap: 1000 of one address admitted');
  t.equal(off.sources, 0);
});

t.test('refusal report: every refusal counted, one warn line per reason and window', async (t) => {
  const warns: Array<Record<string, unknown>> = [];
  const log = { warn: (fields: Record<string, unknown>) => warns.push(fields) } as never;
  const counts: Array<Record<string, string>> = [];
  const counter = { inc: (labels: Record<string, string>) => counts.push(labels) } as never;
  let now = 0;
  const r = new RefusalReporter('agent', counter, log, 1_000, () => now);
  for (let i = 0; i < 100; i++) r.refused('client_hello_timeout', '10.0.0.1');
  r.refused('not_tls', '10.0.0.2');
  now = 1_500;
  r.refused('client_hello_timeout', '10.0.0.1');
  t.equal(counts.length, 102, 'each refusal counted');
  t.same(counts[0], { listener: 'agent', reason: 'client_hello_timeout' });
  t.equal(warns.length, 3, 'one line per reason, one more after the window');
  t.match(warns[2], { reason: 'client_hello_timeout', suppressed: 99, listener: 'agent' });
});

t.test('pacer queue: beyond maxWaiting refused, a too-old waiter closed at its turn', async (t) => {
  const started: unknown[] = [];
  const refused: string[] = [];
  let now = 0;
  const fake = () => {
    const s = {
      destroyed: false,
      on() {},
      off() {},
      destroy() {
        s.destroyed = true;
      },
      remoteAddress: '10.0.0.1',
    };
    return s as unknown as Socket;
  };
  const pacer = new HandshakePacer(
    1,
    (s) => started.push(s),
    { maxWaiting: 2, waitTimeoutMs: 100, refused: (_s, reason) => refused.push(reason) },
    () => now,
  );
  const a = fake();
  const b = fake();
  const c = fake();
  const d = fake();
  pacer.admit(a);
  pacer.admit(b);
  pacer.admit(c);
  pacer.admit(d);
  t.same(started, [a]);
  t.same(refused, ['queue_full'], 'the third waiter is refused');
  t.ok(d.destroyed);
  now = 50;
  pacer.ended();
  t.same(started, [a, b], 'b waited 50 ms: it handshakes');
  now = 200;
  pacer.ended();
  t.same(refused, ['queue_full', 'queue_timeout'], 'c waited 200 ms: closed at its turn');
  t.ok(c.destroyed);
  t.match(pacer.stats(), { dropped: 2, waiting: 0, inFlight: 0 });
});
