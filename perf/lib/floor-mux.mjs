// The least a Node multiplexer can do: streams over one TLS connection with a 9-byte header
// (type u8, stream id u32, length u32) and nothing else — no flow control per stream (a full
// WAN socket pauses every sender, a slow reader pauses the WAN: head-of-line blocking), no
// handshake per stream, no limits, no logging, no metrics, no error reasons. Not a product: the
// floor that shows what any two-process Node tunnel costs on this machine (bulk, RTT, churn, heap
// per idle stream), so a target even the floor misses is shown to be out of reach here.
/** @typedef {import('node:stream').Duplex} Duplex */
const OPEN = 0;
const DATA = 1;
const FIN = 2;
const RESET = 3;
const HEADER = 9;
const EMPTY = Buffer.alloc(0);

/**
 * wan: a connected Duplex (TLS socket). onOpen(id) → a local Duplex for a stream the peer opened
 * (undefined on the side that only opens). Returns open(local) for the side that opens.
 * @param {import('node:net').Socket} wan @param {(id: number) => Duplex} [onOpen]
 */
export function floorMux(wan, onOpen) {
  /** @type {Map<number, { local: Duplex, sentFin: boolean, gotFin: boolean }>} */
  const streams = new Map();
  let nextId = 1;
  /** @type {Set<Duplex>} */
  const paused = new Set();
  wan.on('drain', () => {
    for (const local of paused) local.resume();
    paused.clear();
  });

  /** @param {number} type @param {number} id @param {Buffer} [payload] */
  const send = (type, id, payload) => {
    const h = Buffer.allocUnsafe(HEADER);
    h.writeUInt8(type, 0);
    h.writeUInt32BE(id, 1);
    h.writeUInt32BE(payload ? payload.length : 0, 5);
    if (!payload) return wan.write(h);
    wan.cork();
    wan.write(h);
    const ok = wan.write(payload);
    process.nextTick(() => wan.uncork());
    return ok;
  };

  // a stream: its local Duplex and which FINs passed (closed after both: no RESET needed)
  /** @param {number} id @param {Duplex} local */
  const attach = (id, local) => {
    const st = { local, sentFin: false, gotFin: false };
    streams.set(id, st);
    local.on('data', (/** @type {Buffer} */ chunk) => {
      if (!send(DATA, id, chunk)) {
        local.pause();
        paused.add(local);
      }
    });
    local.on('end', () => {
      st.sentFin = true;
      send(FIN, id);
    });
    local.on('error', () => local.destroy());
    local.on('close', () => {
      paused.delete(local);
      if (streams.get(id) !== st) return;
      streams.delete(id);
      if (!st.sentFin || !st.gotFin) send(RESET, id);
    });
  };

  // DATA payloads go to the stream as they arrive (no reassembly); only a split header is copied
  let partial = EMPTY;
  let dataId = 0;
  let dataLeft = 0;
  wan.on('data', (/** @type {Buffer} */ chunk) => {
    let off = 0;
    while (off < chunk.length) {
      if (dataLeft > 0) {
        const n = Math.min(dataLeft, chunk.length - off);
        const local = streams.get(dataId)?.local;
        // one slow reader stops the whole connection (head-of-line blocking: no per-stream credit)
        if (local && !local.write(chunk.subarray(off, off + n)) && !wan.isPaused()) {
          wan.pause();
          const resume = () => {
            local.off('drain', resume).off('close', resume);
            wan.resume();
          };
          local.on('drain', resume).on('close', resume);
        }
        off += n;
        dataLeft -= n;
        continue;
      }
      let h;
      if (partial.length || chunk.length - off < HEADER) {
        const take = Math.min(HEADER - partial.length, chunk.length - off);
        partial = Buffer.concat([partial, chunk.subarray(off, off + take)]);
        off += take;
        if (partial.length < HEADER) break;
        h = partial;
        partial = EMPTY;
      } else {
        h = chunk.subarray(off, off + HEADER);
        off += HEADER;
      }
      const type = h[0];
      const id = h.readUInt32BE(1);
      if (type === DATA) {
        dataId = id;
        dataLeft = h.readUInt32BE(5);
      } else if (type === OPEN) attach(id, onOpen(id));
      else if (type === FIN) {
        const st = streams.get(id);
        if (st) {
          st.gotFin = true;
          st.local.end();
        }
      } else if (type === RESET) {
        const st = streams.get(id);
        streams.delete(id);
        st?.local.destroy();
      }
    }
  });
  wan.on('close', () => {
    for (const st of streams.values()) st.local.destroy();
    streams.clear();
  });

  return (/** @type {Duplex} */ local) => {
    const id = nextId++;
    send(OPEN, id);
    attach(id, local);
  };
}
