// The process logger writes its lines to stdout in batches: every line arrives, in order, whole; a
// quiet process's line within LOG_FLUSH_MS, a warn line at once; what waits is written when the process exits.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const logger = fileURLToPath(new URL('../src/logger.ts', import.meta.url));
const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));

/** Runs `body` (with `createLogger` in scope) in a child; → its stdout chunks and when each came. */
function child(body: string): Promise<{ chunks: string[]; at: number[]; code: number | null }> {
  const script = `const { createLogger } = await import(${JSON.stringify(logger)});\n${body}`;
  const proc = spawn(process.execPath, [...loader, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: string[] = [];
  const at: number[] = [];
  const t0 = performance.now();
  proc.stdout.on('data', (c: Buffer) => (chunks.push(c.toString()), at.push(performance.now() - t0)));
  return new Promise((resolve) => proc.once('close', (code) => resolve({ chunks, at, code })));
}

const lines = (chunks: string[]): Array<Record<string, unknown>> =>
  chunks
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

t.test('a busy process writes its lines in batches, every line whole and in order', async (t) => {
  // a line every millisecond or two, as a churning server logs its audit lines: each line on its own
  // would be one write (and one read here) per line
  const { chunks, code } = await child(
    `const log = createLogger('info'); for (let i = 0; i < 200; i++) { log.info({ i, pad: 'x'.repeat(200) }, 'audit'); await new Promise((r) => setTimeout(r, 1)); }`,
  );
  t.equal(code, 0);
  const got = lines(chunks);
  t.equal(got.length, 200, 'every line');
  t.same(
    got.map((l) => l['i']),
    [...Array(200).keys()],
    'in order',
  );
  t.ok(chunks.length < 80, `200 lines in ${chunks.length} reads of the pipe`);
});

t.test('a lone line of a quiet process is written within LOG_FLUSH_MS, not held for the batch', async (t) => {
  const { chunks, at, code } = await child(
    `const log = createLogger('info'); log.info('one'); setTimeout(() => log.info('two'), 300); setTimeout(() => {}, 600);`,
  );
  t.equal(code, 0);
  t.same(
    lines(chunks).map((l) => l['msg']),
    ['one', 'two'],
  );
  t.ok(chunks.length >= 2, 'the first line left before the second was logged');
  t.ok(at[1]! - at[0]! > 200, `the lines left ${(at[1]! - at[0]!).toFixed(0)} ms apart, as they were logged`);
});

t.test('a line logged right before the process exits is written', async (t) => {
  const { chunks, code } = await child(`const log = createLogger('info'); log.fatal({ code: 'X' }, 'server failed to start'); process.exitCode = 1;`);
  t.equal(code, 1);
  t.match(lines(chunks), [{ msg: 'server failed to start', code: 'X', level: 60 }]);
});

t.test('a warn line is written at once, with the lines waiting before it', async (t) => {
  // the loop is kept busy for 300 ms after the warn line: a held batch would leave only after it, in one
  // write with the line logged after the busy loop
  const { chunks, code } = await child(
    `const log = createLogger('info'); log.info('before'); log.warn('refused'); const end = Date.now() + 300; while (Date.now() < end); log.info('after'); setTimeout(() => {}, 100);`,
  );
  t.equal(code, 0);
  t.same(
    lines(chunks).map((l) => l['msg']),
    ['before', 'refused', 'after'],
  );
  t.same(
    lines(chunks.slice(0, 1)).map((l) => l['msg']),
    ['before', 'refused'],
    'the first write held the warn line and what waited, not the later line',
  );
});

t.test('a flush asked for while a batch is being written is not lost: the warn line leaves without waiting for exit', async (t) => {
  // the big line fills a batch, so its write is in flight when the warn line asks for a flush; nothing
  // is logged after it, and the process stays up 500 ms
  const proc = child(`const log = createLogger('info'); log.info({ pad: 'x'.repeat(9000) }, 'big'); log.warn('refused'); setTimeout(() => {}, 500);`);
  const { chunks, at, code } = await proc;
  t.equal(code, 0);
  const i = chunks.findIndex((c) => c.includes('"msg":"refused"'));
  t.ok(i >= 0, 'the warn line arrived');
  t.ok(at[i]! < at[0]! + 300, `it left ${(at[i]! - at[0]!).toFixed(0)} ms after the first write, not at exit (~500 ms later)`);
});
