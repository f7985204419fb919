// Reads the server name (SNI) of a TLS ClientHello without terminating TLS (pure): the passthrough
// mode of the HTTPS listener routes by it. The hello may span several handshake records; the bytes
// are parsed as they arrive (`partial` until the whole hello is in). Only what routing needs is
// checked: record and handshake framing, the fixed ClientHello fields, the extension list, and the
// host_name entry of server_name (RFC 6066 §3). The rest is the kubelet's TLS stack's business.

/** TLS record type of a handshake */
const HANDSHAKE_RECORD = 0x16;
/** handshake message type of a ClientHello */
const CLIENT_HELLO = 0x01;
const RECORD_HEADER = 5;
/** a plaintext record carries at most 2^14 bytes (RFC 8446 §5.1) */
const MAX_PLAINTEXT = 16_384;
/** the largest ClientHello read before giving up (a real one is under 2 KiB; post-quantum ones ~2 KiB) */
export const MAX_CLIENT_HELLO = 64 * 1024;
/** extension type server_name */
const SERVER_NAME_EXT = 0x0000;
/** server_name entry type host_name */
const HOST_NAME = 0x00;
/** a DNS name: labels of letters, digits and '-', dot-separated; 253 characters at most */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export type HelloParse =
  /** the whole ClientHello is in `helloBytes` bytes of records; `sni` is absent when it names no host */
  | { kind: 'ok'; sni: string | undefined; helloBytes: number }
  /** more bytes are needed */
  | { kind: 'partial' }
  /** not a ClientHello we can route by: the sentence says why */
  | { kind: 'invalid'; reason: string };

const PARTIAL: HelloParse = { kind: 'partial' };

const invalid = (reason: string): HelloParse => ({ kind: 'invalid', reason });

/** Parses the ClientHello at the start of `buf` (the caller's first bytes). */
export function parseClientHello(buf: Buffer): HelloParse {
  const joined = joinHandshakeRecords(buf);
  if ('kind' in joined) return joined;
  const { body, helloBytes } = joined;
  if (body[0] !== CLIENT_HELLO) return invalid(`first handshake message is type ${body[0]}, not a ClientHello`);
  const sni = serverName(body.subarray(4, 4 + body.readUIntBE(1, 3)));
  return typeof sni === 'object' ? sni : { kind: 'ok', sni, helloBytes };
}

/** The handshake bytes of the leading records, up to the end of the first handshake message. */
function joinHandshakeRecords(buf: Buffer): { body: Buffer; helloBytes: number } | HelloParse {
  const pieces: Buffer[] = [];
  let have = 0;
  let at = 0;
  for (;;) {
    if (buf.length - at < RECORD_HEADER) return at === 0 && buf.length > 0 && buf[0] !== HANDSHAKE_RECORD ? notTls(buf) : partialOr(buf, at);
    if (buf[at] !== HANDSHAKE_RECORD) return at === 0 ? notTls(buf) : invalid('the ClientHello is interleaved with a non-handshake record');
    if (buf[at + 1] !== 0x03) return invalid(`record version ${buf[at + 1]}.${buf[at + 2]} is not TLS`);
    const length = buf.readUInt16BE(at + 3);
    if (length === 0 || length > MAX_PLAINTEXT) return invalid(`handshake record of ${length} bytes (1 to ${MAX_PLAINTEXT} allowed)`);
    if (buf.length - at - RECORD_HEADER < length) return partialOr(buf, at + RECORD_HEADER + length);
    pieces.push(buf.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length));
    have += length;
    at += RECORD_HEADER + length;
    if (have >= 4) {
      const body = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
      const need = 4 + body.readUIntBE(1, 3);
      if (need > MAX_CLIENT_HELLO) return invalid(`ClientHello of ${need} bytes (at most ${MAX_CLIENT_HELLO})`);
      if (have >= need) return { body: body.subarray(0, need), helloBytes: at };
    }
  }
}

/** Partial, unless the bytes needed already exceed what a ClientHello may take. */
function partialOr(buf: Buffer, needed: number): HelloParse {
  return Math.max(needed, buf.length) > MAX_CLIENT_HELLO + RECORD_HEADER * 8 ? invalid(`no complete ClientHello within ${MAX_CLIENT_HELLO} bytes`) : PARTIAL;
}

function notTls(buf: Buffer): HelloParse {
  const text = buf.subarray(0, 8).toString('latin1');
  return invalid(
    /^[A-Z]{3,7} /.test(text) ? 'plain HTTP on the HTTPS listener (use https://)' : `not TLS (first byte 0x${buf[0]!.toString(16).padStart(2, '0')})`,
  );
}

/** Walks a ClientHello body to its server_name extension; the host name, undefined, or an Invalid. */
function serverName(hello: Buffer): string | undefined | HelloParse {
  const r = new Reader(hello);
  r.skip(2 + 32); // client_version, random
  r.skip(r.u8()); // legacy_session_id
  const suites = r.u16();
  if (suites < 2 || suites % 2 !== 0) return r.bad ? truncated() : invalid(`cipher_suites of ${suites} bytes`);
  r.skip(suites);
  const compression = r.u8();
  if (compression < 1) return r.bad ? truncated() : invalid('no compression method');
  r.skip(compression);
  if (r.bad) return truncated();
  if (r.left === 0) return undefined; // a hello without extensions (SSLv3-style): no SNI
  const ext = r.sub(r.u16());
  if (r.bad || r.left !== 0) return invalid('extensions length does not match the ClientHello');
  let found: string | undefined | HelloParse;
  while (ext.left > 0) {
    const type = ext.u16();
    const data = ext.sub(ext.u16());
    if (ext.bad) return invalid('an extension overruns the extension list');
    if (type !== SERVER_NAME_EXT) continue;
    if (found !== undefined) return invalid('two server_name extensions');
    found = hostName(data) ?? invalid('server_name extension without a host_name');
  }
  return found;
}

function hostName(data: Reader): string | HelloParse | undefined {
  const list = data.sub(data.u16());
  if (data.bad || data.left !== 0) return invalid('server_name list length does not match its extension');
  while (list.left > 0) {
    const type = list.u8();
    const name = list.bytes(list.u16());
    if (list.bad) return invalid('a server_name entry overruns its list');
    if (type !== HOST_NAME) continue;
    const text = name.toString('latin1').toLowerCase().replace(/\.$/, '');
    if (!DNS_NAME.test(text)) return invalid(`server name ${JSON.stringify(text.slice(0, 64))} is not a DNS name`);
    return text;
  }
  return undefined;
}

const truncated = (): HelloParse => invalid('ClientHello truncated inside its fixed fields');

/** Bounds-checked big-endian reads; a read past the end sets `bad` (and returns 0 / empty). */
class Reader {
  bad = false;
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  get left(): number {
    return this.buf.length - this.at;
  }
  u8(): number {
    return this.take(1)?.[0] ?? 0;
  }
  u16(): number {
    return this.take(2)?.readUInt16BE(0) ?? 0;
  }
  skip(n: number): void {
    this.take(n);
  }
  bytes(n: number): Buffer {
    return this.take(n) ?? Buffer.alloc(0);
  }
  sub(n: number): Reader {
    const r = new Reader(this.bytes(n));
    r.bad = this.bad;
    return r;
  }
  private take(n: number): Buffer | undefined {
    if (this.bad || n > this.left) {
      this.bad = true;
      return undefined;
    }
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}
