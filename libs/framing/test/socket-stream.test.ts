// SocketStream: a stream wired straight to a local socket, over real TCP sockets on both ends and a
// real TCP session between them. Bytes both ways intact, each FIN on its own, backpressure that
// pauses the reading socket and loses nothing, early bytes both ways (before OPEN_OK, before the
// far side attaches), RESETs either way destroying the socket, the session's end, and a refusal
// when nobody takes socket streams.
import t, { type Test } from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { StreamResetError } from '../src/errors.js';
import type { Session } from '../src/session.js';
import type { SocketStream, SocketStreamOwner } from '../src/socket-stream.js';
import { sessionPair, tcpPair } from './fixtures/transports.js';
import { readAll, until, within } from './fixtures/streams.js';

const MiB = 1024 * 1024;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
/** The app end notices its peer went: 'end' (a FIN; the app sockets are allowHalfOpen), 'error' or 'close'. */
const gone = (s: Socket): Promise<string> => new Promise((res) => ['end', 'error', 'close'].forEach((e) => s.once(e, () => res(e))));

/** An owner that records what it was told. */
class Recorder implements SocketStreamOwner {
  closes: Array<Error | undefined> = [];
  readonly closedOnce: Promise<Error | undefined>;
  private resolve!: (err: Error | undefined) => void;
  constructor(private readonly onOpened?: (s: SocketStream) => void) {
    this.closedOnce = new Promise((r) => (this.resolve = r));
  }
  opened(s: SocketStream): void {
    this.onOpened?.(s);
  }
  closed(_s: SocketStream, err: Error | undefined): void {
    this.closes.push(err);
    this.resolve(err);
  }
}

interface Relay {
  client: Session;
  server: Session;
  /** the caller's app socket (its other end is attached to the client's stream) */
  caller: Socket;
  /** the target's app socket (its other end is attached to the server's stream) */
  target: Socket;
  callerEnd: Socket;
  targetEnd: Socket;
  near: SocketStream;
  far: Promise<SocketStream>;
  nearOwner: Recorder;
  farOwner: Recorder;
}

/**
 * caller ⇄ [client session: SocketStream] ⇄ TCP ⇄ [server session: SocketStream] ⇄ target. The
 * server side accepts at once and attaches after `attachDelayMs` (a dial); `beforeOpen` runs on the
 * near stream before OPEN_OK can arrive.
 */
async function relay(t: Test, o: { attachDelayMs?: number; beforeOpen?: (s: SocketStream) => void; session?: object } = {}): Promise<Relay> {
  const pair = await sessionPair('tcp', { server: { socketStreams: true, ...o.session }, client: { ...o.session } });
  t.teardown(() => pair.close());
  const [caller, callerEnd] = await tcpPair(t);
  const [target, targetEnd] = await tcpPair(t);
  const farOwner = new Recorder();
  const far = new Promise<SocketStream>((resolve) => {
    pair.server.on('socketStream', (s: SocketStream) => {
      s.owner = farOwner;
      s.accept();
      setTimeout(() => (s.attach(targetEnd), resolve(s)), o.attachDelayMs ?? 0);
    });
  });
  callerEnd.pause();
  const nearOwner = new Recorder((s) => s.attach(callerEnd));
  const near = pair.client.openSocket({ host: 'target', port: 9 }, nearOwner);
  o.beforeOpen?.(near);
  // both ends relaying before a test acts (a stream the session ends before OPEN_OK has no socket yet)
  await within(far, 5_000, 'the far side attached');
  await until(() => near.socket !== undefined, 5_000, 'the near side attached (OPEN_OK)');
  return { client: pair.client, server: pair.server, caller, target, callerEnd, targetEnd, near, far, nearOwner, farOwner };
}

t.test('4 MiB each way intact over two socket streams; each FIN crosses on its own; both owners told once, cleanly', async (t) => {
  const r = await relay(t);
  const up = randomBytes(4 * MiB);
  const down = randomBytes(4 * MiB);
  const atTarget = readAll(r.target);
  const atCaller = readAll(r.caller);
  r.caller.end(up);
  const got = await within(atTarget, 20_000, 'the target read to its end');
  t.equal(sha(got), sha(up), 'caller → target: SHA-256 equal');
  t.equal(r.nearOwner.closes.length, 0, 'the caller’s FIN alone does not end the stream');
  r.target.end(down); // the other direction still flows after the first FIN
  t.equal(sha(await within(atCaller, 20_000, 'the caller read to its end')), sha(down), 'target → caller: SHA-256 equal');
  t.same(await within(r.nearOwner.closedOnce, 5_000, 'near closed'), undefined, 'the near owner: closed without error');
  t.same(await within(r.farOwner.closedOnce, 5_000, 'far closed'), undefined, 'the far owner: closed without error');
  const far = await r.far;
  t.equal(r.near.resetCode, undefined, 'no RESET');
  t.equal(far.resetCode, undefined, 'no RESET on the far side');
  t.equal(r.near.sent, up.length, 'near sent every byte');
  t.equal(far.received, up.length, 'far received every byte');
  t.equal(r.client.streams.size + r.server.streams.size, 0, 'both sessions let go of the stream');
  await new Promise((res) => setTimeout(res, 50)); // the sockets' own 'close' comes after: it must not tell again
  t.same([r.nearOwner.closes.length, r.farOwner.closes.length], [1, 1], 'closed() once per side');
});

t.test('a target that stops reading pauses the caller’s socket; nothing is lost when it reads again', async (t) => {
  const window = 64 * 1024;
  const r = await relay(t, { session: { initialWindow: window, maxWindow: window, sendBuffer: 64 * 1024 } });
  r.target.pause();
  const data = randomBytes(32 * MiB);
  let written = 0;
  const chunk = 256 * 1024;
  const pump = (): void => {
    while (written < data.length) {
      const ok = r.caller.write(data.subarray(written, written + chunk));
      written += chunk;
      if (!ok) return void r.caller.once('drain', pump);
    }
    r.caller.end();
  };
  pump();
  await until(() => r.callerEnd.isPaused(), 10_000, 'the caller’s relay end is paused');
  await new Promise((res) => setTimeout(res, 200));
  t.ok(written < data.length, `the caller could not push everything while the target was stalled (${(written / MiB).toFixed(1)} of 32 MiB)`);
  t.ok(r.near.queued <= 64 * 1024 + 256 * 1024, `the near stream queues at most its send buffer and a read (${r.near.queued} B)`);
  const far = await r.far;
  t.ok(r.targetEnd.writableLength <= 16 * 1024 + window, `the far side's socket buffers at most its mark and one window (${r.targetEnd.writableLength} B)`);
  // credited bytes the socket took before it asked for 'drain' (its 16 KiB mark) plus at most one window
  t.ok(far.readableLength <= window + 16 * 1024, `the far stream counts at most a window and the socket's mark as not taken (${far.readableLength} B)`);
  const got = readAll(r.target);
  r.target.resume();
  t.equal(sha(await within(got, 30_000, 'the target read it all')), sha(data), '32 MiB intact after the stall');
  t.equal(r.nearOwner.closes.length, 0, 'the stream is still open (the target has not ended)');
});

t.test('early bytes: before OPEN_OK (send), and from the peer before the far side attaches', async (t) => {
  const head = Buffer.from('HEAD before the stream was accepted|');
  const r = await relay(t, { attachDelayMs: 100, beforeOpen: (s) => s.send(head) });
  const atTarget = readAll(r.target);
  r.caller.end('then the caller’s own bytes');
  t.equal(
    (await within(atTarget, 5_000, 'target end')).toString(),
    `${head.toString()}then the caller’s own bytes`,
    'the head first, then the socket’s bytes, in order',
  );
  const atCaller = readAll(r.caller);
  r.target.end('reply');
  t.equal((await within(atCaller, 5_000, 'caller end')).toString(), 'reply');
});

t.test('bytes the peer sends before attach() wait in the stream and come out first, then its FIN', async (t) => {
  const pair = await sessionPair('tcp', { server: { socketStreams: true } });
  t.teardown(() => pair.close());
  const [target, targetEnd] = await tcpPair(t);
  const [caller, callerEnd] = await tcpPair(t);
  const farOwner = new Recorder();
  pair.server.on('socketStream', (s: SocketStream) => {
    s.owner = farOwner;
    s.accept();
    s.send(Buffer.from('banner from the server side\n')); // a server-speaks-first target, before the near side attaches
    setTimeout(() => s.attach(targetEnd), 10);
  });
  let near!: SocketStream;
  const attached = new Promise<void>((res) => {
    near = pair.client.openSocket({ host: 't', port: 1 }, new Recorder((s) => setTimeout(() => (s.attach(callerEnd), res()), 100)));
  });
  await until(() => near.received > 0, 5_000, 'the banner arrived at the near stream');
  t.ok(near.readableLength > 0, `unattached, the bytes wait in the stream (${near.readableLength} B)`);
  const atCaller = readAll(caller);
  await attached;
  target.end('and then the target');
  t.equal((await within(atCaller, 5_000, 'caller end')).toString(), 'banner from the server side\nand then the target');
  t.equal(near.readableLength, 0, 'attached: nothing held back');
});

t.test('a RESET from the peer destroys the local socket and tells the owner the code and reason', async (t) => {
  const r = await relay(t);
  const far = await r.far;
  const callerGone = gone(r.caller);
  r.caller.resume(); // a socket that reads notices its peer went
  far.reset('REFUSED', 'not this one');
  const err = await within(r.nearOwner.closedOnce, 5_000, 'near closed');
  t.ok(err instanceof StreamResetError, 'a StreamResetError');
  t.match(err, { wireCode: 'REFUSED', message: /not this one/, remote: true });
  t.equal(r.near.resetCode, 'REFUSED');
  t.ok(r.callerEnd.destroyed, 'the near socket is destroyed');
  await within(callerGone, 5_000, 'the caller sees its connection go');
  t.same(await r.farOwner.closedOnce, undefined, 'the resetting side: closed without error');
  t.ok(r.targetEnd.destroyed, 'and its own socket destroyed');
});

t.test('a local socket that fails or closes resets the stream with CANCEL; the other side drops its socket', async (t) => {
  for (const [how, lose, reason] of [
    ['the caller resets its connection', (r: Relay) => r.caller.resetAndDestroy(), /local connection: .*ECONNRESET/],
    ['the relay end is destroyed', (r: Relay) => r.callerEnd.destroy(), /the local connection closed/],
  ] as const) {
    const r = await relay(t);
    await r.far;
    const targetGone = gone(r.target);
    r.target.resume();
    lose(r);
    const err = await within(r.farOwner.closedOnce, 5_000, 'far closed');
    t.match(err, { wireCode: 'CANCEL', message: reason }, `${how}: the far owner hears CANCEL and why`);
    await within(targetGone, 5_000, 'the target sees its connection go');
    t.same(r.nearOwner.closes, [undefined], `${how}: the near owner is told once, no error (it reset)`);
  }
});

t.test('a caller that half-closes is not lost: its FIN crosses, the reply still comes back', async (t) => {
  const r = await relay(t);
  const atTarget = readAll(r.target);
  const atCaller = readAll(r.caller);
  r.caller.end('question');
  t.equal((await within(atTarget, 5_000, 'target end')).toString(), 'question');
  r.target.end('answer');
  t.equal((await within(atCaller, 5_000, 'caller end')).toString(), 'answer');
  t.same(await within(r.farOwner.closedOnce, 5_000, 'far closed'), undefined, 'closed cleanly');
});

t.test('an owner can answer a lost socket itself (code and reason of its choosing)', async (t) => {
  const r = await relay(t);
  const far = await r.far;
  far.owner = Object.assign(new Recorder(), {
    socketLost(s: SocketStream, err: Error | undefined) {
      s.reset('CONNECT_FAILED', `target: ${err ? err.message : 'closed'}`);
    },
  });
  r.target.resetAndDestroy();
  const err = await within(r.nearOwner.closedOnce, 5_000, 'near closed');
  t.match(err, { wireCode: 'CONNECT_FAILED', message: /target: .*ECONNRESET/ });
});

t.test('the session ending tells every owner with its error and destroys the sockets', async (t) => {
  const r = await relay(t);
  await r.far;
  r.client.destroy();
  const err = await within(r.nearOwner.closedOnce, 5_000, 'near closed');
  t.ok(err instanceof Error, `near: ${String(err)}`);
  t.ok(r.callerEnd.destroyed, 'the near socket is destroyed');
  await within(r.farOwner.closedOnce, 5_000, 'far closed');
  t.ok(r.targetEnd.destroyed, 'the far socket is destroyed');
  t.equal(r.nearOwner.closes.length, 1, 'told once');
});

t.test('socket streams nobody takes are refused on the wire; attach() twice throws', async (t) => {
  const pair = await sessionPair('tcp', { server: { socketStreams: true } });
  t.teardown(() => pair.close());
  pair.server.on('stream', () => t.fail('a socket-stream session emits socketStream, not stream'));
  const owner = new Recorder();
  pair.client.openSocket({ host: 't', port: 1 }, owner);
  t.match(await within(owner.closedOnce, 5_000, 'refused'), { wireCode: 'REFUSED', message: /accepts no streams/ });
  const [, end] = await tcpPair(t);
  const [, end2] = await tcpPair(t);
  pair.server.on('socketStream', (s: SocketStream) => s.accept());
  const s = pair.client.openSocket({ host: 't', port: 1 }, new Recorder());
  s.attach(end);
  t.throws(() => s.attach(end2), /already attached/);
});
