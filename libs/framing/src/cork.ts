// Call `corkForTurn(socket)` before each write to `socket`: the first write of an event-loop turn corks
// it and the turn's end (setImmediate) uncorks, so the frames the session socket's reads of one turn
// deliver leave in one writev, not one syscall each (4 → 1 per 64 KiB on loopback). Not nextTick: ticks
// run after every decrypted TLS record, which is one frame. Needs a writable highWaterMark of several
// frames, or the writer sees backpressure after the first. Whether the turn already corked it is read
// from the socket (`writableCorked`), so a relay keeps no state for it.
import type { Writable } from 'node:stream';

export function corkForTurn(socket: Writable): void {
  if (socket.writableCorked > 0) return;
  socket.cork();
  setImmediate(uncorkSocket, socket);
}

function uncorkSocket(socket: Writable): void {
  socket.uncork();
}
