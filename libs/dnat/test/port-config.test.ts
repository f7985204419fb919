import t from 'tap';
import { CONFIG_KEYS, Channel, RejectCode, channelOf, parsePortConfig, portConfigToJSON } from '../src/index.js';
import type { DnatRejectCode, PortConfigJSON } from '../src/index.js';

const json = (data: Record<string, string | undefined>): PortConfigJSON => portConfigToJSON(parsePortConfig(data).config);
const EMPTY: PortConfigJSON = { httpPorts: [], httpsPorts: [], localhostPorts: [] };

t.test('good entries of every key', async (t) => {
  const cases: Array<[string, Record<string, string | undefined>, PortConfigJSON]> = [
    ['dnat-ports-pair', { 'dnat-ports-pair': '9051=10264,9052=10264' }, { ...EMPTY, httpPorts: [9051, 9052] }],
    ['http-proxy-ports', { 'http-proxy-ports': '9100,8080' }, { ...EMPTY, httpPorts: [8080, 9100] }],
    ['https-proxy-ports', { 'https-proxy-ports': '9443' }, { ...EMPTY, httpsPorts: [9443] }],
    ['localhost only → https', { 'localhost-proxy-ports': '9200' }, { ...EMPTY, httpsPorts: [9200], localhostPorts: [9200] }],
    ['localhost + http → http', { 'http-proxy-ports': '9200', 'localhost-proxy-ports': '9200' }, { ...EMPTY, httpPorts: [9200], localhostPorts: [9200] }],
    [
      'localhost + dnat pair → http',
      { 'dnat-ports-pair': '9200=10264', 'localhost-proxy-ports': '9200' },
      { ...EMPTY, httpPorts: [9200], localhostPorts: [9200] },
    ],
    ['localhost + https → https', { 'https-proxy-ports': '9200', 'localhost-proxy-ports': '9200' }, { ...EMPTY, httpsPorts: [9200], localhostPorts: [9200] }],
    ['port bounds', { 'http-proxy-ports': '1,65535' }, { ...EMPTY, httpPorts: [1, 65535] }],
    ['whitespace around entries', { 'http-proxy-ports': ' 9100 ,\t9101\n', 'dnat-ports-pair': ' 9051 = 10264 ' }, { ...EMPTY, httpPorts: [9051, 9100, 9101] }],
    ['empty values', { 'dnat-ports-pair': '', 'http-proxy-ports': '  ', 'https-proxy-ports': undefined }, EMPTY],
    ['no keys', {}, EMPTY],
  ];
  for (const [name, data, expected] of cases) {
    const { rejected } = parsePortConfig(data);
    t.same(rejected, [], `${name}: nothing rejected`);
    t.strictSame(json(data), expected, name);
  }
});

t.test('empty entries are reported; a blank value is still "no ports"', async (t) => {
  const { config, rejected } = parsePortConfig({ 'http-proxy-ports': '9100,,9101,', 'https-proxy-ports': ',', 'dnat-ports-pair': '  ' });
  t.strictSame(portConfigToJSON(config), { ...EMPTY, httpPorts: [9100, 9101] }, 'the good entries still apply');
  t.strictSame(
    rejected.map((r) => [r.key, r.entry, r.code]),
    [
      ['http-proxy-ports', '', 'EMPTY_ENTRY'],
      ['http-proxy-ports', '', 'EMPTY_ENTRY'],
      ['https-proxy-ports', '', 'EMPTY_ENTRY'],
      ['https-proxy-ports', '', 'EMPTY_ENTRY'],
    ],
  );
  t.equal(
    rejected[0]!.reason,
    "kube-system/edge-tunnel-server-cfg key http-proxy-ports: entry '' was ignored: entry 2 of 4 is empty (two commas with nothing between them, between '9100' and '9101'); remove the extra comma.",
  );
  t.match(rejected[1]!.reason, /entry 4 of 4 is empty \(a trailing comma, after '9101'\)/);
  t.match(rejected[2]!.reason, /entry 1 of 2 is empty \(a leading comma, and no entry has a value\)/);
  const big = parsePortConfig({ 'http-proxy-ports': `${Array.from({ length: 20000 }, (_, i) => 20000 + i).join(',')},` });
  t.equal(big.rejected.length, 1);
  t.ok(big.rejected[0]!.reason.length < 300, 'the reason quotes the neighbours, not a 20 000-entry value');
});

t.test('repeated ports are reported with their first occurrence; the port still applies', async (t) => {
  const { config, rejected } = parsePortConfig({
    'dnat-ports-pair': '9051=10264,9051=10264',
    'http-proxy-ports': '9051, 9100',
    'https-proxy-ports': '9443,9443',
    'localhost-proxy-ports': '9100,9100',
  });
  t.strictSame(portConfigToJSON(config), { httpPorts: [9051, 9100], httpsPorts: [9443], localhostPorts: [9100] });
  t.strictSame(
    rejected.map((r) => [r.key, r.entry, r.code]),
    [
      ['dnat-ports-pair', '9051=10264', 'DUPLICATE_ENTRY'],
      ['http-proxy-ports', '9051', 'DUPLICATE_ENTRY'],
      ['https-proxy-ports', '9443', 'DUPLICATE_ENTRY'],
      ['localhost-proxy-ports', '9100', 'DUPLICATE_ENTRY'],
    ],
    'a localhost port also listed for HTTP is not a duplicate',
  );
  t.equal(
    rejected[0]!.reason,
    "kube-system/edge-tunnel-server-cfg key dnat-ports-pair: entry '9051=10264' was ignored: port 9051 is already declared earlier in dnat-ports-pair as '9051=10264' (first occurrence); the port applies once, remove the repeat.",
  );
  t.match(rejected[1]!.reason, /port 9051 is already declared by dnat-ports-pair as '9051=10264' \(first occurrence\)/);
  const other = parsePortConfig({ 'dnat-ports-pair': '9051=10264', 'https-proxy-ports': '9051' });
  t.strictSame(
    other.rejected.map((r) => r.code),
    ['CONFLICT'],
    'the other channel stays a CONFLICT, not a duplicate',
  );
});

t.test('each bad entry is rejected with its code; good entries survive', async (t) => {
  const cases: Array<[string, string, DnatRejectCode, number[]?]> = [
    ['http-proxy-ports', 'abc', RejectCode.INVALID_PORT],
    ['http-proxy-ports', '0', RejectCode.INVALID_PORT],
    ['http-proxy-ports', '65536', RejectCode.INVALID_PORT],
    ['http-proxy-ports', '-1', RejectCode.INVALID_PORT],
    ['http-proxy-ports', '80.5', RejectCode.INVALID_PORT],
    ['http-proxy-ports', '0x50', RejectCode.INVALID_PORT],
    ['http-proxy-ports', '1e3', RejectCode.INVALID_PORT],
    ['http-proxy-ports', '+80', RejectCode.INVALID_PORT],
    ['http-proxy-ports', '99999999', RejectCode.INVALID_PORT],
    ['http-proxy-ports', '91 00', RejectCode.INVALID_PORT],
    ['https-proxy-ports', 'x443', RejectCode.INVALID_PORT],
    ['localhost-proxy-ports', '70000', RejectCode.INVALID_PORT],
    ['dnat-ports-pair', 'abc=10264', RejectCode.INVALID_PORT],
    ['dnat-ports-pair', '0=10264', RejectCode.INVALID_PORT],
    ['dnat-ports-pair', '9051', RejectCode.INVALID_PAIR],
    ['dnat-ports-pair', '9051=', RejectCode.INVALID_PAIR],
    ['dnat-ports-pair', '=10264', RejectCode.INVALID_PAIR],
    ['dnat-ports-pair', '9051=10264=10264', RejectCode.INVALID_PAIR],
    ['dnat-ports-pair', '9051=10263', RejectCode.INVALID_PAIR],
    ['dnat-ports-pair', '9051=9051', RejectCode.INVALID_PAIR],
    ['dnat-ports-pair', '9051=http', RejectCode.INVALID_PAIR],
    ['dnat-ports-pair', '9051:10264', RejectCode.INVALID_PAIR],
  ];
  for (const [key, entry, code] of cases) {
    const { config, rejected } = parsePortConfig({ [key]: `${entry}, 9999${key === 'dnat-ports-pair' ? '=10264' : ''}` });
    t.equal(rejected.length, 1, `${key}: '${entry}' rejected alone`);
    t.match(rejected[0], { key, entry, code }, `${key}: '${entry}' → ${code}`);
    t.ok(rejected[0]!.reason.includes(key) && rejected[0]!.reason.includes(entry), 'reason names key and entry');
    t.ok(channelOf(config, 9999) !== undefined, 'the good entry next to it applies');
  }
});

t.test('9051=10263 tells to use https-proxy-ports', async (t) => {
  const { rejected } = parsePortConfig({ 'dnat-ports-pair': '9051=10263' });
  t.match(rejected, [{ code: RejectCode.INVALID_PAIR }]);
  t.match(rejected[0]!.reason, /https-proxy-ports/);
});

t.test('reserved ports are rejected under every key', async (t) => {
  const reserved = [10250, 10255, 10262, 10263, 10264, 10265, 10266];
  for (const key of CONFIG_KEYS) {
    for (const port of reserved) {
      const entry = key === 'dnat-ports-pair' ? `${port}=10264` : String(port);
      const { config, rejected } = parsePortConfig({ [key]: entry });
      t.match(rejected, [{ key, entry, code: RejectCode.RESERVED_PORT }], `${key}: ${port}`);
      t.ok(rejected[0]!.reason.includes(String(port)), 'reason names the port');
      t.strictSame(portConfigToJSON(config), EMPTY, 'nothing configured');
    }
  }
});

t.test('conflicts: the first declaration in key order wins', async (t) => {
  const cases: Array<[string, Record<string, string>, Channel, string, string]> = [
    ['pair vs https', { 'https-proxy-ports': '9100', 'dnat-ports-pair': '9100=10264' }, Channel.HTTP, 'https-proxy-ports', '9100'],
    ['http vs https', { 'https-proxy-ports': '9100', 'http-proxy-ports': '9100' }, Channel.HTTP, 'https-proxy-ports', '9100'],
    [
      'pair + http vs https',
      { 'dnat-ports-pair': '9100=10264', 'http-proxy-ports': '9100', 'https-proxy-ports': '9100' },
      Channel.HTTP,
      'https-proxy-ports',
      '9100',
    ],
  ];
  for (const [name, data, channel, key, entry] of cases) {
    const parsed = parsePortConfig(data);
    const { config } = parsed;
    // pair + http is also a DUPLICATE_ENTRY (same channel twice), checked in its own test
    const rejected = parsed.rejected.filter((r) => r.code !== RejectCode.DUPLICATE_ENTRY);
    t.equal(channelOf(config, 9100), channel, `${name}: channel`);
    t.match(rejected, [{ key, entry, code: RejectCode.CONFLICT }], `${name}: rejected`);
    t.equal(rejected.length, 1, `${name}: once`);
    t.match(rejected[0]!.reason, /9100/);
  }
});

t.test('unknown keys are rejected (sorted), with a suggestion for typos', async (t) => {
  const { config, rejected } = parsePortConfig({
    'https-proxy-port': '9443',
    'http-proxy-ports': '9100',
    zzz: '1',
    'HTTP-PROXY-PORTS': '',
  });
  t.strictSame(
    rejected.map((r) => [r.code, r.key, r.entry]),
    [
      [RejectCode.UNKNOWN_KEY, 'HTTP-PROXY-PORTS', ''],
      [RejectCode.UNKNOWN_KEY, 'https-proxy-port', '9443'],
      [RejectCode.UNKNOWN_KEY, 'zzz', '1'],
    ],
  );
  t.match(rejected[1]!.reason, /https-proxy-ports/, 'suggests the nearest key');
  t.match(rejected[0]!.reason, /http-proxy-ports/, 'case typo suggests the key');
  t.notMatch(rejected[2]!.reason, /Did you mean/, 'no suggestion for far-off keys');
  t.equal(channelOf(config, 9100), Channel.HTTP, 'known keys still apply');
  t.equal(channelOf(config, 9443), undefined, 'the unknown key does not apply');
});

t.test('rejections come in key order, then unknown keys', async (t) => {
  const { rejected } = parsePortConfig({
    bogus: 'x',
    'localhost-proxy-ports': 'l',
    'https-proxy-ports': 's',
    'http-proxy-ports': 'h,h2',
    'dnat-ports-pair': 'p',
  });
  t.strictSame(
    rejected.map((r) => r.entry),
    ['p', 'h', 'h2', 's', 'l', 'x'],
  );
});

t.test('non-string values from a YAML parser are tolerated', async (t) => {
  const data = { 'http-proxy-ports': 9100, 'https-proxy-ports': [9443, 9444], 'localhost-proxy-ports': null };
  const { config, rejected } = parsePortConfig(data as unknown as Record<string, string>);
  t.same(rejected, []);
  t.strictSame(portConfigToJSON(config), { httpPorts: [9100], httpsPorts: [9443, 9444], localhostPorts: [] });
  const bad = parsePortConfig({ 'http-proxy-ports': { a: 1 } } as unknown as Record<string, string>);
  t.match(bad.rejected, [{ code: RejectCode.INVALID_PORT }]);
});

t.test('inherited properties are not keys', async (t) => {
  const data = Object.create({ 'http-proxy-ports': '9100' }) as Record<string, string>;
  t.strictSame(json(data), EMPTY);
});

t.test('config and rejected entries are frozen', async (t) => {
  const { config, rejected } = parsePortConfig({ 'http-proxy-ports': '9100,x' });
  t.ok(Object.isFrozen(config));
  t.ok(Object.isFrozen(rejected[0]));
});
