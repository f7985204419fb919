// Preloaded (`node --expose-gc --import probe.mjs …`) into every Node process of a chain under test:
// answers {perfProbe} IPC messages with heap, external, RSS and fd count, after a full GC when
// asked, then writes a heap snapshot when the message names a file (`snapshot`).
// The IPC channel is unref'd so it never keeps the process alive.
import { readdirSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';

if (process.channel) {
  process.on('message', (msg) => {
    if (!msg || msg.perfProbe === undefined) return;
    if (msg.gc && typeof globalThis.gc === 'function') {
      globalThis.gc();
      globalThis.gc();
    }
    const mu = process.memoryUsage();
    let fds = -1;
    try {
      fds = readdirSync('/proc/self/fd').length;
    } catch {
      // no /proc: fds stay unknown
    }
    if (msg.snapshot) writeHeapSnapshot(msg.snapshot);
    process.send({ perfProbe: msg.perfProbe, heapUsed: mu.heapUsed, rss: mu.rss, external: mu.external, fds });
  });
  process.channel.unref();
}
