import t from 'tap';
import { formatPorts, inPorts, parsePortList } from '../src/ports.js';

t.test('parses ports and ranges', async (t) => {
  t.same(parsePortList('9100-9199, 9051,,'), [
    { lo: 9100, hi: 9199 },
    { lo: 9051, hi: 9051 },
  ]);
  t.same(parsePortList(''), []);
  t.equal(formatPorts(parsePortList('1,2-3') as never), '1,2-3');
  t.ok(inPorts([{ lo: 5, hi: 7 }], 7));
  t.notOk(inPorts([{ lo: 5, hi: 7 }], 8));
});

t.test('rejects bad entries with a sentence', async (t) => {
  for (const bad of ['0', '65536', 'abc', '1-2-3', '9199-9100', '-5', '80-']) {
    t.type(parsePortList(bad), 'string', bad);
  }
  t.match(parsePortList('9199-9100'), /ends before it starts/);
});
