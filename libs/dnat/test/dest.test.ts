import t from 'tap';
import { parseDest } from '../src/index.js';

t.test('parseDest', async (t) => {
  const cases: Array<[string, number | undefined, { host: string; port: number } | undefined]> = [
    ['10.0.0.5:10250', undefined, { host: '10.0.0.5', port: 10250 }],
    ['[fd00::5]:10250', undefined, { host: 'fd00::5', port: 10250 }],
    ['[FD00:0::5]:10255', undefined, { host: 'fd00::5', port: 10255 }],
    ['edge-1:10250', undefined, { host: 'edge-1', port: 10250 }],
    ['Edge-1:9100', undefined, { host: 'edge-1', port: 9100 }],
    ['edge-1', 10250, { host: 'edge-1', port: 10250 }],
    ['edge-1.', 80, { host: 'edge-1', port: 80 }],
    ['10.0.0.5', 443, { host: '10.0.0.5', port: 443 }],
    ['[fd00::5]', 443, { host: 'fd00::5', port: 443 }],
    ['fd00::5', 443, { host: 'fd00::5', port: 443 }],
    ['edge-1:', 80, { host: 'edge-1', port: 80 }],
    ['  edge-1:10250 ', undefined, { host: 'edge-1', port: 10250 }],
    ['node.example.com:1', undefined, { host: 'node.example.com', port: 1 }],
    ['edge-1', undefined, undefined],
    ['edge-1:', undefined, undefined],
    ['[fd00::5]', undefined, undefined],
    ['edge-1', 0, undefined],
    ['edge-1', 65536, undefined],
    ['', 80, undefined],
    [':80', undefined, undefined],
    ['edge-1:0', undefined, undefined],
    ['edge-1:65536', undefined, undefined],
    ['edge-1:-1', undefined, undefined],
    ['edge-1:80x', undefined, undefined],
    ['edge-1:1e3', undefined, undefined],
    ['edge_1:80', undefined, undefined],
    ['user@edge-1:80', undefined, undefined],
    ['http://edge-1:80', undefined, undefined],
    ['edge-1:80/path', undefined, undefined],
    ['[fd00::5]10250', undefined, undefined],
    ['[fd00::5:10250', undefined, undefined],
    ['[edge-1]:80', undefined, undefined],
    ['[10.0.0.5]:80', undefined, { host: '10.0.0.5', port: 80 }],
    ['fd00::5:10250', undefined, { host: 'fd00::5:10250', port: NaN }],
    ['fe80::1%eth0', 80, undefined],
    ['10.0.0.256:80', undefined, { host: '10.0.0.256', port: 80 }],
    ['a'.repeat(254), 80, undefined],
  ];
  for (const [input, defaultPort, expected] of cases) {
    const got = parseDest(input, defaultPort);
    if (expected !== undefined && Number.isNaN(expected.port)) {
      t.equal(got, undefined, `${input}: an unbracketed IPv6 with a port is not split`);
    } else {
      t.strictSame(got, expected, `${JSON.stringify(input).slice(0, 30)} (default ${defaultPort})`);
    }
  }
  t.equal(parseDest(undefined as unknown as string, 80), undefined, 'non-string input');
});
