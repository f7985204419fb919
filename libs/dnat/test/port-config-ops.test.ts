import t from 'tap';
import {
  Channel,
  DnatError,
  DnatErrorCode,
  EMPTY_PORT_CONFIG,
  channelOf,
  diffPortConfig,
  isLocalhostPort,
  parsePortConfig,
  portConfigFromJSON,
  portConfigToData,
  portConfigToJSON,
} from '../src/index.js';

const parse = (data: Record<string, string>) => parsePortConfig(data).config;

t.test('channelOf: built-ins, configured, unknown', async (t) => {
  const config = parse({ 'http-proxy-ports': '9100', 'https-proxy-ports': '9443', 'localhost-proxy-ports': '9200' });
  const cases: Array<[number, Channel | undefined]> = [
    [10250, Channel.HTTPS],
    [10255, Channel.HTTP],
    [9100, Channel.HTTP],
    [9443, Channel.HTTPS],
    [9200, Channel.HTTPS],
    [9101, undefined],
    [10264, undefined],
    [0, undefined],
    [NaN, undefined],
  ];
  for (const [port, channel] of cases) t.equal(channelOf(config, port), channel, `port ${port}`);
  t.equal(channelOf(EMPTY_PORT_CONFIG, 10250), Channel.HTTPS, 'built-ins need no config');
  t.equal(channelOf(EMPTY_PORT_CONFIG, 10255), Channel.HTTP);
  t.notOk(config.httpPorts.has(10255), 'built-ins are not listed');
  t.notOk(config.httpsPorts.has(10250));
});

t.test('isLocalhostPort', async (t) => {
  const config = parse({ 'localhost-proxy-ports': '9200', 'http-proxy-ports': '9100' });
  t.equal(isLocalhostPort(config, 9200), true);
  t.equal(isLocalhostPort(config, 9100), false);
  t.equal(isLocalhostPort(config, 10250), false);
});

t.test('JSON round trip', async (t) => {
  const config = parse({ 'dnat-ports-pair': '9051=10264', 'https-proxy-ports': '9443,9200', 'localhost-proxy-ports': '9200' });
  const json = portConfigToJSON(config);
  t.strictSame(json, { httpPorts: [9051], httpsPorts: [9200, 9443], localhostPorts: [9200] });
  t.strictSame(portConfigFromJSON(JSON.parse(JSON.stringify(json))), config);
  t.strictSame(portConfigFromJSON({}), EMPTY_PORT_CONFIG, 'missing fields are empty');
});

t.test('portConfigFromJSON rejects invalid input with ERR_DNAT_INVALID_PORT_CONFIG', async (t) => {
  const bad: unknown[] = [
    null,
    42,
    'x',
    { httpPorts: 'nope' },
    { httpPorts: ['9100'] },
    { httpsPorts: [1.5] },
    { httpPorts: [0] },
    { httpPorts: [10250] },
    { httpPorts: [9100], httpsPorts: [9100] },
    { localhostPorts: [10266] },
  ];
  for (const input of bad) {
    t.throws(() => portConfigFromJSON(input), { code: DnatErrorCode.INVALID_PORT_CONFIG }, JSON.stringify(input));
  }
  try {
    portConfigFromJSON({ httpPorts: [10250] });
  } catch (err) {
    t.ok(err instanceof DnatError && err instanceof Error);
    t.match((err as Error).message, /10250/);
  }
});

t.test('portConfigToData parses back to the same config', async (t) => {
  const config = parse({ 'dnat-ports-pair': '9051=10264', 'https-proxy-ports': '9443', 'localhost-proxy-ports': '9200,9051' });
  const again = parsePortConfig(portConfigToData(config));
  t.same(again.rejected, []);
  t.strictSame(again.config, config);
});

t.test('diffPortConfig', async (t) => {
  const a = parse({ 'http-proxy-ports': '9100,9101', 'https-proxy-ports': '9443,9444' });
  const b = parse({ 'http-proxy-ports': '9101,9444,9102', 'https-proxy-ports': '9443', 'localhost-proxy-ports': '9101' });
  t.strictSame(diffPortConfig(a, b), {
    added: [
      { port: 9102, channel: 'http' },
      { port: 9444, channel: 'http' },
    ],
    removed: [
      { port: 9100, channel: 'http' },
      { port: 9444, channel: 'https' },
    ],
  });
  t.strictSame(diffPortConfig(a, a), { added: [], removed: [] }, 'no change');
  t.strictSame(diffPortConfig(EMPTY_PORT_CONFIG, a).removed, [], 'from empty: only additions');
  t.equal(diffPortConfig(EMPTY_PORT_CONFIG, a).added.length, 4);
  t.strictSame(diffPortConfig(a, EMPTY_PORT_CONFIG).added, [], 'to empty: only removals');
});
