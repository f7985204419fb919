import t from 'tap';
import { normalizeIp, normalizeNodeName } from '../src/index.js';

t.test('normalizeIp', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['10.0.0.5', '10.0.0.5'],
    ['255.255.255.255', '255.255.255.255'],
    ['fd00::5', 'fd00::5'],
    ['[fd00::5]', 'fd00::5'],
    ['FD00::5', 'fd00::5'],
    ['[FD00:0:0::5]', 'fd00::5'],
    ['2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    ['::1', '::1'],
    ['010.0.0.5', undefined],
    ['10.0.0.256', undefined],
    ['10.0.0', undefined],
    ['', undefined],
    ['fe80::1%eth0', undefined],
    ['[fd00::5', undefined],
    ['fd00::5]', undefined],
    ['[10.0.0.5]', '10.0.0.5'],
    ['edge-1', undefined],
    ['fd00:::5', undefined],
    [' 10.0.0.5', undefined],
  ];
  for (const [input, expected] of cases) t.equal(normalizeIp(input), expected, JSON.stringify(input));
  t.equal(normalizeIp(42 as unknown as string), undefined, 'non-string');
  t.equal(normalizeNodeName(undefined as unknown as string), undefined, 'non-string');
});

t.test('normalizeNodeName', async (t) => {
  const long = `${'a'.repeat(63)}.`.repeat(4).slice(0, 253);
  const cases: Array<[string, string | undefined]> = [
    ['edge-1', 'edge-1'],
    ['Edge-1', 'edge-1'],
    ['node.example.com', 'node.example.com'],
    ['1', '1'],
    [long, long],
    [`${long}a`, undefined],
    ['', undefined],
    ['-edge', undefined],
    ['edge-', undefined],
    ['edge_1', undefined],
    ['edge..1', undefined],
    ['.edge', undefined],
    ['edge 1', undefined],
    ['édge', undefined],
    ['edge-1:10250', undefined],
  ];
  for (const [input, expected] of cases) t.equal(normalizeNodeName(input), expected, JSON.stringify(input).slice(0, 40));
});
