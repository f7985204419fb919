// A minimal SPDY/3.1 server-side codec, enough for kubectl port-forward (Go's moby/spdystream on
// the other end): frame parsing and writing, and the per-direction zlib streams of header blocks.
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';

/** SPDY control frame types used here. */
export const SpdyType = {
  /** Opens a stream (client → server here). */
  synStream: 1,
  /** Accepts a stream. */
  synReply: 2,
  /** Aborts a stream. */
  rstStream: 3,
  /** Connection settings (ignored). */
  settings: 4,
  /** Liveness; the receiver echoes the peer's pings. */
  ping: 6,
  /** The connection is going away. */
  goAway: 7,
  /** More headers for a stream (ignored). */
  headers: 8,
  /** Flow-control credit (ignored: spdystream does not enforce windows). */
  windowUpdate: 9,
} as const;
export type SpdyType = (typeof SpdyType)[keyof typeof SpdyType];

/** FLAG_FIN on data and SYN frames: the sender's half of the stream is done. */
export const FLAG_FIN = 0x01;
/** Frame header: 8 bytes for control and data frames alike. */
const FRAME_HEADER_BYTES = 8;
/** Frames larger than this are a protocol error here (kubectl sends ≤ 32 KiB). */
export const MAX_FRAME_BYTES = 1 << 20;
/** RST_STREAM status CANCEL. */
export const RST_CANCEL = 5;

export type SpdyFrame = { control: true; type: number; flags: number; data: Buffer } | { control: false; streamId: number; flags: number; data: Buffer };

/** The SPDY/3 header-compression dictionary (draft 3, §2.6.10.1): 1423 bytes. */
export const SPDY_DICTIONARY: Buffer = (() => {
  const names = [
    'options',
    'head',
    'post',
    'put',
    'delete',
    'trace',
    'accept',
    'accept-charset',
    'accept-encoding',
    'accept-language',
    'accept-ranges',
    'age',
    'allow',
    'authorization',
    'cache-control',
    'connection',
    'content-base',
    'content-encoding',
    'content-language',
    'content-length',
    'content-location',
    'content-md5',
    'content-range',
    'content-type',
    'date',
    'etag',
    'expect',
    'expires',
    'from',
    'host',
    'if-match',
    'if-modified-since',
    'if-none-match',
    'if-range',
    'if-unmodified-since',
    'last-modified',
    'location',
    'max-forwards',
    'pragma',
    'proxy-authenticate',
    'proxy-authorization',
    'range',
    'referer',
    'retry-after',
    'server',
    'te',
    'trailer',
    'transfer-encoding',
    'upgrade',
    'user-agent',
    'vary',
    'via',
    'warning',
    'www-authenticate',
    'method',
    'get',
    'status',
    '200 OK',
    'version',
    'HTTP/1.1',
    'url',
    'public',
    'set-cookie',
    'keep-alive',
    'origin',
  ];
  const tail =
    '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
    '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized' +
    '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
    'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
    'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,' +
    'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';
  return Buffer.concat([...names.map((n) => lengthPrefixed(Buffer.from(n, 'latin1'))), Buffer.from(tail, 'latin1')]);
})();

function lengthPrefixed(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/** Incremental frame parser: feed chunks, get whole frames. */
export class SpdyParser {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): SpdyFrame[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: SpdyFrame[] = [];
    while (this.buffered.length >= FRAME_HEADER_BYTES) {
      const length = this.buffered.readUInt32BE(4) & 0xffffff;
      if (length > MAX_FRAME_BYTES) throw new Error(`spdy: frame of ${length} bytes is larger than ${MAX_FRAME_BYTES}`);
      if (this.buffered.length < FRAME_HEADER_BYTES + length) break;
      const flags = this.buffered[4]!;
      const data = Buffer.from(this.buffered.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length));
      const word = this.buffered.readUInt32BE(0);
      frames.push(word & 0x80000000 ? { control: true, type: word & 0xffff, flags, data } : { control: false, streamId: word, flags, data });
      this.buffered = this.buffered.subarray(FRAME_HEADER_BYTES + length);
    }
    return frames;
  }
}

export function controlFrame(type: SpdyType, flags: number, data: Buffer): Buffer {
  const head = Buffer.alloc(FRAME_HEADER_BYTES);
  head.writeUInt32BE((0x8000 | 3) * 0x10000 + type);
  head.writeUInt32BE((((flags & 0xff) << 24) >>> 0) + data.length, 4);
  return Buffer.concat([head, data]);
}

export function dataFrame(streamId: number, flags: number, data: Buffer): Buffer {
  const head = Buffer.alloc(FRAME_HEADER_BYTES);
  head.writeUInt32BE(streamId & 0x7fffffff);
  head.writeUInt32BE((((flags & 0xff) << 24) >>> 0) + data.length, 4);
  return Buffer.concat([head, data]);
}

export function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
}

/** A name/value header block (uncompressed): count, then length-prefixed names and values. */
export function encodeHeaderBlock(headers: ReadonlyArray<[string, string]>): Buffer {
  return Buffer.concat([u32(headers.length), ...headers.flatMap(([n, v]) => [lengthPrefixed(Buffer.from(n.toLowerCase())), lengthPrefixed(Buffer.from(v))])]);
}

export function decodeHeaderBlock(block: Buffer): Map<string, string> {
  const headers = new Map<string, string>();
  let at = 0;
  const next = (): string => {
    const len = block.readUInt32BE(at);
    const s = block.subarray(at + 4, at + 4 + len).toString('utf8');
    at += 4 + len;
    return s;
  };
  const count = block.readUInt32BE(0);
  at = 4;
  for (let i = 0; i < count; i += 1) {
    const name = next();
    headers.set(name.toLowerCase(), next());
  }
  return headers;
}

/** One direction's zlib stream for header blocks: every block ends with a sync flush. */
export class HeaderZlib {
  private readonly out: Buffer[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly z: Deflate | Inflate) {
    z.on('data', (c: Buffer) => this.out.push(c));
    z.on('error', () => undefined);
  }

  static compressor(): HeaderZlib {
    return new HeaderZlib(createDeflate({ dictionary: SPDY_DICTIONARY }));
  }

  static decompressor(): HeaderZlib {
    return new HeaderZlib(createInflate({ dictionary: SPDY_DICTIONARY }));
  }

  /** Run one block through the stream; blocks are processed in call order. */
  process(input: Buffer): Promise<Buffer> {
    const run = this.queue.then(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          this.out.length = 0;
          const onError = (err: Error): void => reject(err);
          this.z.once('error', onError);
          this.z.write(input);
          this.z.flush(constants.Z_SYNC_FLUSH, () => {
            this.z.off('error', onError);
            // Output pushed during the flush may be delivered on the next turn.
            setImmediate(() => resolve(Buffer.concat(this.out.splice(0))));
          });
        }),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.z.destroy();
  }
}
