// How the resumable link writes to its socket (spec §10.3): each DATA record is one socket write (so
// one TLS record: header and payload are not split), a due ACK rides in front of the next DATA
// record instead of leaving alone; by default it never leaves alone on a timer (it rides on the
// keepalive's PING or PONG), only with ackDelayMs set. The socket is a
// recording Duplex: one `_write` or corked `_writev` is one write, as a TLS socket makes one record
// of it.
import t from 'tap';
import { Duplex } from 'node:stream';
import { ResumableLink } from '../src/resume/link.js';
import { RecordDecoder, RecordType, encodeRecord } from '../src/resume/records.js';

/** A socket that keeps every write it is given (a corked batch as one). */
class RecordingSocket extends Duplex {
  readonly writes: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.writes.push(chunk);
    cb();
  }
  override _writev(chunks: Array<{ chunk: Buffer }>, cb: () => void): void {
    this.writes.push(Buffer.concat(chunks.map((c) => c.chunk)));
    cb();
  }
}

/** The records of one write, as [type, payload length]. */
function recordsOf(write: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  new RecordDecoder({ record: (type, payload) => out.push([type, payload.length]) }).push(write);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function attached(ackDelayMs?: number, extra: { keepaliveIntervalMs?: number } = {}) {
  const link = new ResumableLink({ ...(ackDelayMs === undefined ? {} : { ackDelayMs }), ...extra });
  const socket = new RecordingSocket();
  link.attach(socket, 0);
  link.on('data', () => {});
  await sleep(5);
  socket.writes.length = 0; // the new socket's first ACK
  return { link, socket };
}

t.test('a small DATA record is one write (its header not a write of its own)', async (t) => {
  const { link, socket } = await attached();
  link.write(Buffer.alloc(110, 1));
  await sleep(5);
  t.equal(socket.writes.length, 1, 'one write for the record');
  t.same(recordsOf(socket.writes[0]!), [[RecordType.DATA, 110]], 'header and payload together');
  link.destroy();
});

t.test('a large DATA record leaves corked: one write, split into records of at most 64 KiB', async (t) => {
  const { link, socket } = await attached();
  link.write(Buffer.alloc(100_000, 2));
  await sleep(5);
  t.equal(socket.writes.length, 1, 'one write');
  t.same(recordsOf(socket.writes[0]!), [
    [RecordType.DATA, 65_536],
    [RecordType.DATA, 100_000 - 65_536],
  ]);
  link.destroy();
});

t.test('a due ACK rides in front of the next DATA record; nothing is sent alone after it', async (t) => {
  const { link, socket } = await attached(30);
  socket.push(encodeRecord(RecordType.DATA, Buffer.alloc(50, 3)));
  await sleep(2);
  t.equal(socket.writes.length, 0, 'no ACK at the end of the turn');
  link.write(Buffer.alloc(20, 4));
  await sleep(60);
  t.equal(socket.writes.length, 1, 'one write, and no lone ACK after the delay');
  t.same(
    recordsOf(socket.writes[0]!),
    [
      [RecordType.ACK, 8],
      [RecordType.DATA, 20],
    ],
    'ACK, then the DATA record',
  );
  t.equal(socket.writes[0]!.readBigUInt64BE(4), 50n, 'the ACK counts the 50 bytes received');
  link.destroy();
});

t.test('with nothing to send, the ACK leaves alone after ackDelayMs', async (t) => {
  const { link, socket } = await attached(20);
  socket.push(encodeRecord(RecordType.DATA, Buffer.alloc(70, 5)));
  await sleep(5);
  t.equal(socket.writes.length, 0, 'held for a DATA record to ride on');
  await sleep(60);
  t.equal(socket.writes.length, 1, 'then sent');
  t.same(recordsOf(socket.writes[0]!), [[RecordType.ACK, 8]]);
  t.equal(socket.writes[0]!.readBigUInt64BE(4), 70n);
  link.destroy();
});

t.test("by default no ACK leaves alone (a relay without TCP_NODELAY would hold the next DATA behind it): the peer's PING carries it on its PONG", async (t) => {
  const { link, socket } = await attached();
  socket.push(encodeRecord(RecordType.DATA, Buffer.alloc(70, 5)));
  await sleep(60);
  t.equal(socket.writes.length, 0, 'no lone ACK after 60 ms');
  const ping = Buffer.alloc(8);
  ping.writeDoubleBE(1);
  socket.push(encodeRecord(RecordType.PING, ping));
  await sleep(5);
  t.equal(socket.writes.length, 1, 'one write answers the PING');
  t.same(
    recordsOf(socket.writes[0]!),
    [
      [RecordType.ACK, 8],
      [RecordType.PONG, 8],
    ],
    'ACK, then the PONG',
  );
  t.equal(socket.writes[0]!.readBigUInt64BE(4), 70n, 'the ACK counts the 70 bytes received');
  link.destroy();
});

t.test('our own keepalive PING carries a due ACK', async (t) => {
  const { link, socket } = await attached(undefined, { keepaliveIntervalMs: 20 });
  socket.push(encodeRecord(RecordType.DATA, Buffer.alloc(30, 6)));
  await waitForWrite(socket, 2_000);
  t.same(
    recordsOf(socket.writes[0]!),
    [
      [RecordType.ACK, 8],
      [RecordType.PING, 8],
    ],
    'ACK, then the PING, in one write',
  );
  t.equal(socket.writes[0]!.readBigUInt64BE(4), 30n);
  link.destroy();
});

async function waitForWrite(socket: RecordingSocket, ms: number): Promise<void> {
  for (let waited = 0; socket.writes.length === 0 && waited < ms; waited += 5) await sleep(5);
}
