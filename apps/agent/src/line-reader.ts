// The local end of a stream the agent only reads (the replica control stream): a Duplex whose
// readable side ends at once (attached, the stream half-closes towards the server) and whose
// writable side hands each line to `onLine`, UTF-8 split across frames included. A line longer
// than `maxLine` calls `onTooLong` instead and drops what was buffered.
import { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export class LineReader extends Duplex {
  private buf = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLine: number,
    private readonly onTooLong: () => void,
  ) {
    super();
    this.push(null);
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.buf += this.decoder.write(chunk);
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      this.onLine(line);
    }
    if (this.buf.length > this.maxLine) {
      this.buf = '';
      this.onTooLong();
    }
    cb();
  }
}
