// The Session compliance suite: the same behaviour checked over the in-memory pair, real TCP and
// real TLS, each with compression off and on (streams open with `compress: true` when on).
import t from 'tap';
import { StreamResetError } from '../src/errors.js';
import type { Stream } from '../src/stream.js';
import { TRANSPORTS, sessionPair, type SessionPair } from './fixtures/transports.js';
import { digestOf, logText, next, randomBlock, readAll, sha256, until, within, writeBulk } from './fixtures/streams.js';

const MiB = 1024 * 1024;
const META = { host: '10.0.0.5', port: 10250, kind: 'https', traceId: 'trace-abc' };

/** Every peer-opened stream is accepted and echoed back (FIN included). */
function echo(session: SessionPair['server']): void {
  session.on('stream', (s: Stream) => {
    s.accept();
    s.pipe(s);
  });
}

for (const transport of TRANSPORTS) {
  for (const compression of [false, true]) {
    t.test(`${transport}, compression ${compression ? 'on' : 'off'}`, async (t) => {
      const meta = { ...META, compress: compression };
      const pair = (o: Parameters<typeof sessionPair>[1] = {}): Promise<SessionPair> => sessionPair(transport, { compression, ...o });
      const use = async (p: SessionPair): Promise<SessionPair> => (t.teardown(() => p.close()), p);

      t.test('hello exchange', async (t) => {
        const p = await use(await pair());
        t.same(await p.client.ready, { side: 'server', kind: transport });
        t.same(p.server.peerHello, { side: 'client', kind: transport });
        t.equal(p.client.peer?.codecs, compression ? 1 : 0, 'codecs follow the compression option');
        t.equal(p.client.lz4Agreed(), compression);
      });

      t.test('echo round trip and OPEN metadata', async (t) => {
        const p = await use(await pair());
        const seen = next<Stream>(p.server, 'stream');
        echo(p.server);
        const s = p.client.open(meta);
        t.equal(s.id % 2, 1, 'client ids are odd');
        const opened = next(s, 'opened');
        s.end('hello over the mux');
        const got = await within(readAll(s), 5_000, 'echo');
        t.equal(got.toString(), 'hello over the mux');
        await opened;
        const remote = await seen;
        t.same(remote.meta, meta, 'host, port, kind, traceId arrive as sent');
        t.equal(remote.compress, compression, 'compression agreed per stream');
      });

      t.test('half-close: client ends first, server writes back, then ends', async (t) => {
        const p = await use(await pair());
        let release = (): void => {};
        const go = new Promise<void>((r) => (release = r));
        const sawFin = new Promise<string>((resolve) => {
          p.server.on('stream', (s: Stream) => {
            s.accept();
            const parts: Buffer[] = [];
            s.on('data', (b: Buffer) => parts.push(b));
            s.on('end', () => {
              resolve(Buffer.concat(parts as Uint8Array[]).toString());
              // our readable side ended; the writable side still works
              void go.then(() => s.end('reply after your FIN'));
            });
          });
        });
        const s = p.client.open(meta);
        const finished = next(s, 'finish');
        s.end('request');
        await within(finished, 5_000, 'client finish');
        t.equal(await within(sawFin, 5_000, 'server end'), 'request', "the server's readable side ended after the data");
        t.ok(p.client.streams.has(s.id), 'half-closed stream is still tracked by the opener');
        t.equal(p.server.streams.size, 1, 'and by the acceptor');
        release();
        const reply = await within(readAll(s), 5_000, 'reply');
        t.equal(reply.toString(), 'reply after your FIN');
        await until(() => p.client.streams.size === 0 && p.server.streams.size === 0, 5_000, 'streams forgotten');
        t.equal(p.client.stats().streams, 0);
        t.equal(p.server.stats().streams, 0);
      });

      t.test('half-close: server ends first, client writes back, then ends', async (t) => {
        const p = await use(await pair());
        const serverGot = new Promise<string>((resolve) => {
          p.server.on('stream', (s: Stream) => {
            s.accept();
            s.end('banner');
            void readAll(s).then((b) => resolve(b.toString()));
          });
        });
        const s = p.client.open(meta);
        const got = await within(readAll(s), 5_000, 'banner');
        t.equal(got.toString(), 'banner');
        t.equal(s.writable, true, 'client can still write after the peer FIN');
        s.end('answer');
        t.equal(await within(serverGot, 5_000, 'answer'), 'answer');
        await until(() => p.client.streams.size === 0 && p.server.streams.size === 0, 5_000, 'streams forgotten');
        t.pass('both sides forgot the stream');
      });

      t.test('RESET from the opener reaches the acceptor with code and reason', async (t) => {
        const p = await use(await pair());
        const remoteErr = new Promise<StreamResetError>((resolve) => {
          p.server.on('stream', (s: Stream) => {
            s.accept();
            s.on('error', (e: StreamResetError) => resolve(e));
            s.resume();
          });
        });
        const s = p.client.open(meta);
        await next(s, 'opened');
        s.write('some bytes');
        const closed = next(s, 'close');
        s.reset('CANCEL', 'caller went away');
        const err = await within(remoteErr, 5_000, 'remote reset');
        t.equal(err.code, 'ERR_FRAMING_STREAM_RESET');
        t.equal(err.wireCode, 'CANCEL');
        t.equal(err.reason, 'caller went away');
        t.equal(err.remote, true);
        await closed;
        t.equal(s.resetCode, 'CANCEL');
        await until(() => p.client.streams.size === 0 && p.server.streams.size === 0, 5_000, 'streams forgotten');
      });

      t.test('RESET from the acceptor reaches the opener with code and reason', async (t) => {
        const p = await use(await pair());
        p.server.on('stream', (s: Stream) => {
          s.accept();
          s.once('data', () => s.reset('CONNECT_FAILED', 'dial 10.0.0.5:10250: ECONNREFUSED'));
        });
        const s = p.client.open(meta);
        const err = next<StreamResetError>(s, 'error');
        s.write('x');
        const e = await within(err, 5_000, 'reset');
        t.ok(e instanceof StreamResetError);
        t.equal(e.wireCode, 'CONNECT_FAILED');
        t.equal(e.reason, 'dial 10.0.0.5:10250: ECONNREFUSED');
        t.equal(e.remote, true);
        await until(() => p.client.streams.size === 0 && p.server.streams.size === 0, 5_000, 'streams forgotten');
      });

      t.test('refusal with a reason before OPEN_OK', async (t) => {
        const p = await use(await pair());
        p.server.on('stream', (s: Stream) => s.refuse('REFUSED', 'port 22 is not allowed on edge-1'));
        const s = p.client.open({ ...meta, port: 22 });
        let opened = false;
        s.on('opened', () => (opened = true));
        const e = await within(next<StreamResetError>(s, 'error'), 5_000, 'refusal');
        t.equal(e.wireCode, 'REFUSED');
        t.equal(e.reason, 'port 22 is not allowed on edge-1');
        t.equal(e.remote, true);
        t.equal(opened, false, 'no OPEN_OK for a refused stream');
        t.equal(p.client.streams.size, 0);
      });

      t.test('0-RTT: data written before OPEN_OK arrives with the OPEN', async (t) => {
        const p = await use(await pair());
        const early = new Promise<number>((resolve) => {
          p.server.on('stream', (s: Stream) => {
            // accept only once the early bytes are here: they cannot have waited for OPEN_OK
            const check = (): void => {
              if (s.readableLength < 11) return void setTimeout(check, 2);
              resolve(s.readableLength);
              s.accept();
              s.pipe(s);
            };
            check();
          });
        });
        const s = p.client.open(meta);
        let openedBeforeWrite = false;
        s.on('opened', () => (openedBeforeWrite = true));
        s.end('early bytes');
        t.equal(openedBeforeWrite, false);
        t.equal(await within(early, 5_000, '0-RTT bytes'), 11, 'bytes buffered at the acceptor before accept()');
        t.equal((await within(readAll(s), 5_000, 'echo')).toString(), 'early bytes');
      });

      t.test('100 MiB through one stream, SHA-256 equal', async (t) => {
        const p = await use(await pair());
        const arrived = new Promise<{ digest: ReturnType<typeof digestOf> }>((resolve) => {
          p.server.on('stream', (s: Stream) => {
            s.accept();
            resolve({ digest: digestOf(s) });
            s.end();
          });
        });
        const s = p.client.open(meta);
        s.resume();
        const sent = await within(writeBulk(s, 100 * MiB, randomBlock(MiB)), 60_000, 'send 100 MiB');
        const got = await within((await arrived).digest, 60_000, 'receive 100 MiB');
        t.equal(got.bytes, sent.bytes);
        t.equal(got.sha256, sent.sha256);
      });

      if (transport !== 'tcp') {
        t.test('256 parallel streams, ~100 MiB together, per-stream SHA-256 equal', async (t) => {
          const p = await use(await pair());
          const n = 256;
          const each = 400 * 1024;
          const digests = new Map<number, Promise<Awaited<ReturnType<typeof digestOf>>>>();
          p.server.on('stream', (s: Stream) => {
            s.accept();
            digests.set(Number(s.meta.traceId), digestOf(s));
            s.end();
          });
          const block = randomBlock(256 * 1024);
          const sends = Array.from({ length: n }, (_, i) => {
            const s = p.client.open({ ...meta, traceId: String(i) });
            s.resume();
            return writeBulk(s, each + i * 97, block);
          });
          const sent = await within(Promise.all(sends), 60_000, 'send');
          await until(() => digests.size === n, 10_000, 'all streams accepted');
          let equal = 0;
          for (let i = 0; i < n; i++) {
            const got = await within(digests.get(i)!, 60_000, `stream ${i}`);
            if (got.sha256 === sent[i]!.sha256 && got.bytes === sent[i]!.bytes) equal += 1;
          }
          t.equal(equal, n, 'every stream arrived intact');
        });
      }

      t.test('compressible text', async (t) => {
        const p = await use(await pair());
        echo(p.server);
        const text = logText(4 * MiB);
        const s = p.client.open(meta);
        s.end(text);
        const got = await within(readAll(s), 20_000, 'echo text');
        t.equal(sha256(got), sha256(text), 'decodes identically');
        const out = p.client.stats().bytesOut;
        if (compression) t.ok(out < text.length / 4, `sent compressed: ${out} bytes on the wire for ${text.length}`);
        else t.ok(out > text.length, `sent raw: ${out} bytes on the wire for ${text.length}`);
      });

      t.test('incompressible data', async (t) => {
        const p = await use(await pair());
        echo(p.server);
        const data = randomBlock(4 * MiB);
        const s = p.client.open(meta);
        s.end(data);
        const got = await within(readAll(s), 20_000, 'echo random');
        t.equal(sha256(got), sha256(data), 'arrives intact');
        const out = p.client.stats().bytesOut;
        t.ok(out >= data.length && out < data.length * 1.01, `framing overhead under 1 %: ${out} for ${data.length}`);
      });
    });
  }
}
