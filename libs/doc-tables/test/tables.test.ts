import t from 'tap';
import { firstColumnCodes, tableAfter, tableCells, tableCodes } from '../src/index.js';

const doc = [
  '# Title',
  '## Error codes',
  '',
  'Some prose.',
  '',
  '| code | meaning |',
  '| --- | --- |',
  '| `ERR_A` | the first |',
  '| `ERR_B` | a \\| pipe |',
  '| plain | not a code |',
  '',
  '| key | value |',
  '| --- | --- |',
  '| `k` | `v` |',
  '',
  '## Empty',
  'no table here',
].join('\n');

t.test('tableAfter: the rows of the first table after the heading line', async (t) => {
  t.strictSame(tableAfter(doc, '## Error codes'), [
    ['`ERR_A`', 'the first'],
    ['`ERR_B`', 'a | pipe'],
    ['plain', 'not a code'],
  ]);
});

t.test('tableAfter: a heading may be the table header row itself', async (t) => {
  t.strictSame(tableAfter(doc, '| key | value |'), [['`k`', '`v`']]);
});

t.test('tableAfter: the heading must be a whole line', async (t) => {
  t.throws(() => tableAfter(doc, '## Error'), /no line "## Error"/);
  t.throws(() => tableAfter(doc, '## Empty'), /no table after "## Empty"/);
});

t.test('tableCodes and firstColumnCodes', async (t) => {
  t.strictSame(tableCodes(doc, '## Error codes'), ['ERR_A', 'ERR_B', '(not a code: plain)']);
  t.strictSame(firstColumnCodes([['`x`'], []]), ['x', '(not a code: )']);
});

t.test('tableCells: escaped pipes stay in the cell', async (t) => {
  t.strictSame(tableCells('| a | b \\| c |  '), ['a', 'b | c']);
});
