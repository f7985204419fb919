// The passthrough listener's SNI reader against real ClientHellos (Node's and curl's), every split
// point, re-fragmented records, and malformed / oversized input (a seeded fuzz that must never throw).
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { MAX_CLIENT_HELLO, parseClientHello } from '../src/accept/client-hello-sni.js';

/** The first bytes a client sends to a listener that never answers. */
async function captureHello(dial: (port: number) => void): Promise<Buffer> {
  return new Promise((resolve) => {
    const server = createServer((socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => {
        chunks.push(c);
        const buf = Buffer.concat(chunks);
        if (parseClientHello(buf).kind !== 'partial') {
          socket.destroy();
          server.close();
          resolve(buf);
        }
      });
    }).listen(0, '127.0.0.1', () => dial((server.address() as AddressInfo).port));
  });
}

const nodeHello = (servername?: string): Promise<Buffer> =>
  captureHello((port) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), rejectUnauthorized: false });
    s.on('error', () => undefined);
  });

/** Re-cuts the handshake bytes of `hello` into records of `size` bytes. */
function refragment(hello: Buffer, size: number): Buffer {
  const body = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) {
    const piece = body.subarray(at, at + size);
    const head = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    head.writeUInt16BE(piece.length, 3);
    out.push(head, piece);
  }
  return Buffer.concat(out);
}

t.test('real hellos: Node with a node name, Node to an IP, curl', async (t) => {
  const named = await nodeHello('edge-1.example');
  t.match(parseClientHello(named), { kind: 'ok', sni: 'edge-1.example', helloBytes: named.length });
  t.match(parseClientHello(await nodeHello()), { kind: 'ok', sni: undefined }, 'an IP destination: Node sends no SNI');
  const curl = await captureHello((port) =>
    execFile('curl', ['-sk', '--max-time', '2', '--connect-to', `edge-2:10250:127.0.0.1:${port}`, 'https://edge-2:10250/healthz'], () => undefined),
  );
  t.match(parseClientHello(curl), { kind: 'ok', sni: 'edge-2' });
  const withData = Buffer.concat([named, Buffer.from('early bytes')]);
  t.match(parseClientHello(withData), { kind: 'ok', helloBytes: named.length }, 'bytes after the hello are not counted');
  t.match(
    parseClientHello(Buffer.from(named.toString('latin1').replace('edge-1.example', 'EDGE-1.EXAMPLE'), 'latin1')),
    { sni: 'edge-1.example' },
    'names are case-insensitive',
  );
});

t.test('every split point: partial until the last byte, then the name', async (t) => {
  const hello = await nodeHello('edge-1');
  let wrong = 0;
  for (let n = 0; n < hello.length; n++) if (parseClientHello(hello.subarray(0, n)).kind !== 'partial') wrong++;
  t.equal(wrong, 0, 'no prefix is taken for a whole hello');
  for (const size of [1, 7, 100, 511]) {
    const cut = refragment(hello, size);
    t.match(parseClientHello(cut), { kind: 'ok', sni: 'edge-1', helloBytes: cut.length }, `records of ${size} bytes`);
    t.equal(parseClientHello(cut.subarray(0, cut.length - 1)).kind, 'partial');
  }
});

t.test('malformed input gets a sentence', async (t) => {
  const hello = await nodeHello('edge-1');
  const cases: Array<[string, Buffer, RegExp]> = [
    ['plain HTTP', Buffer.from('GET /healthz HTTP/1.1\r\n\r\n'), /plain HTTP/],
    ['SSH banner', Buffer.from('SSH-2.0-OpenSSH_9\r\n'), /not TLS \(first byte 0x53\)/],
    ['record version 2', Buffer.from([0x16, 0x02, 0x00, 0x00, 0x05, 1, 0, 0, 1, 0]), /record version 2\.0 is not TLS/],
    ['empty record', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]), /handshake record of 0 bytes/],
    ['oversized record', Buffer.from([0x16, 0x03, 0x01, 0x48, 0x01]), /handshake record of 18433 bytes/],
    ['oversized hello', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff]), /ClientHello of 16777219 bytes/],
    ['ServerHello', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]), /type 2, not a ClientHello/],
    ['truncated fixed fields', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x06, 0x01, 0x00, 0x00, 0x02, 0x03, 0x03]), /truncated/],
    ['alert after a partial hello', Buffer.concat([refragment(hello, 50).subarray(0, 55), Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 2, 40])]), /interleaved/],
  ];
  for (const [what, buf, reason] of cases) t.match(parseClientHello(buf), { kind: 'invalid', reason }, what);
  const badName = Buffer.from(hello.toString('latin1').replace('edge-1', 'edge_1'), 'latin1');
  t.match(parseClientHello(badName), { kind: 'invalid', reason: /"edge_1" is not a DNS name/ });
  const huge = Buffer.alloc(MAX_CLIENT_HELLO + 1024);
  for (let at = 0; at + 5 <= huge.length; at += 5 + 16_000) huge.set([0x16, 0x03, 0x01, 0x3e, 0x80], at); // records of 16 000 bytes
  huge.set([0x01, 0x00, 0xff, 0x00], 5); // hello of 65 280 bytes: within the limit, but more than is sent
  t.match(parseClientHello(huge), { kind: 'invalid', reason: /within 65536 bytes|ClientHello of/ }, 'a hello that never completes within the cap');
});

t.test('seeded fuzz: flipped, cut and spliced hellos never throw', async (t) => {
  const hello = await nodeHello('edge-1');
  let seed = 0x2545f491;
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  const kinds = { ok: 0, partial: 0, invalid: 0 };
  for (let i = 0; i < 20_000; i++) {
    const buf = Buffer.from(hello.subarray(0, rnd(3) === 0 ? rnd(hello.length) : hello.length));
    for (let f = rnd(4); f >= 0; f--) if (buf.length > 0) buf[rnd(buf.length)] = rnd(256);
    const r = parseClientHello(buf);
    kinds[r.kind]++;
    if (r.kind === 'ok' && r.sni !== undefined && !/^[a-z0-9.-]+$/.test(r.sni)) t.fail(`odd name ${r.sni}`);
  }
  t.ok(kinds.ok > 0 && kinds.invalid > 0 && kinds.partial > 0, `every outcome seen: ${JSON.stringify(kinds)}`);
});
