// LineReader, the local end of the replica control stream: lines split across writes (a multi-byte
// character cut between two frames included), an over-long line reported once and dropped, and a
// readable side that ends at once (the agent half-closes the control stream).
import t from 'tap';
import { LineReader } from '../src/line-reader.js';

t.test('lines across writes, UTF-8 cut between two writes', async (t) => {
  const lines: string[] = [];
  const r = new LineReader(
    (l) => lines.push(l),
    1024,
    () => t.fail('no line is too long'),
  );
  const text = Buffer.from('{"replicas":["α:1"]}\nsecond\nthi', 'utf8');
  const cut = text.indexOf(Buffer.from('α')) + 1; // inside the two bytes of 'α'
  r.write(text.subarray(0, cut));
  r.write(text.subarray(cut));
  r.write('rd\n');
  await new Promise((res) => r.end(res));
  t.same(lines, ['{"replicas":["α:1"]}', 'second', 'third']);
});

t.test('a line beyond the limit calls onTooLong and is dropped; later lines still arrive', async (t) => {
  const lines: string[] = [];
  let tooLong = 0;
  const r = new LineReader(
    (l) => lines.push(l),
    16,
    () => tooLong++,
  );
  r.write('x'.repeat(17));
  t.equal(tooLong, 1, 'reported once the buffer passed 16 characters');
  r.write('\nok\n');
  t.same(lines, ['', 'ok'], 'the rest of the long line was dropped with it; the next line arrives');
});

t.test('the readable side ends at once: nothing is ever written back', async (t) => {
  const r = new LineReader(
    () => {},
    16,
    () => {},
  );
  const chunks: unknown[] = [];
  r.on('data', (c) => chunks.push(c));
  await new Promise((res) => r.once('end', res));
  t.same(chunks, []);
});
