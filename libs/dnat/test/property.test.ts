// Seeded property test: random ConfigMaps against a naive oracle, JSON/data round trips, diff, and
// resolution consistent with channelOf.
import t from 'tap';
import {
  CONFIG_KEYS,
  NodeTable,
  channelOf,
  diffPortConfig,
  isLocalhostPort,
  parsePortConfig,
  portConfigFromJSON,
  portConfigToData,
  portConfigToJSON,
  resolve,
} from '../src/index.js';
import type { Channel, ConfigKey, PortConfig, PortConfigJSON } from '../src/index.js';
import { seeded } from './fixtures/random.js';
import type { Random } from './fixtures/random.js';

const POOL = [9000, 9001, 9002, 9003, 9004, 9005, 1, 65535];
const RESERVED = [10250, 10255, 10262, 10263, 10264, 10265, 10266];
const GARBAGE = ['x', '0', '65536', '9000.0', '-9'];
const PROBE = [...POOL, ...RESERVED, 9999];

interface Generated {
  data: Record<string, string>;
  expected: PortConfigJSON;
  codes: string[];
}

/** One random ConfigMap and what a naive reading of the rules says it means. */
function generate(rnd: Random): Generated {
  const data: Record<string, string> = {};
  const channel = new Map<number, Channel>();
  const localhost = new Set<number>();
  const codes: string[] = [];
  for (const key of CONFIG_KEYS) {
    if (rnd.chance(0.2)) continue;
    const own: string[] = [];
    const entries = Array.from({ length: rnd.int(5) }, () => entry(rnd, key, channel, localhost, own));
    const trailing = rnd.chance(0.3);
    if (trailing) own.push(...(entries.length === 0 ? ['EMPTY_ENTRY', 'EMPTY_ENTRY'] : ['EMPTY_ENTRY'])); // ',' is two blanks
    data[key] = entries.map((e) => (rnd.chance(0.3) ? ` ${e}\t` : e)).join(',') + (trailing ? ',' : '');
    if (data[key]!.trim() !== '') codes.push(...own); // a blank value is "no ports", nothing to report
  }
  if (rnd.chance(0.2)) [data['http-proxy-port'], codes[codes.length]] = ['9000', 'UNKNOWN_KEY'];
  for (const port of localhost) if (!channel.has(port)) channel.set(port, 'https');
  const of = (c: Channel): number[] =>
    [...channel]
      .filter(([, v]) => v === c)
      .map(([p]) => p)
      .sort((a, b) => a - b);
  const expected = { httpPorts: of('http'), httpsPorts: of('https'), localhostPorts: [...localhost].sort((a, b) => a - b) };
  return { data, expected, codes };
}

function entry(rnd: Random, key: ConfigKey, channel: Map<number, Channel>, localhost: Set<number>, codes: string[]): string {
  const pair = key === 'dnat-ports-pair';
  const roll = rnd.int(12);
  if (roll === 11) {
    codes.push('EMPTY_ENTRY');
    return '';
  }
  if (roll === 0) {
    codes.push(pair ? 'INVALID_PAIR' : 'INVALID_PORT'); // garbage has no '=', so pairs fail on shape
    return rnd.pick(GARBAGE);
  }
  const port = roll === 1 ? rnd.pick(RESERVED) : rnd.pick(POOL);
  const text = pair ? `${port}=10264` : String(port);
  const want: Channel = key === 'https-proxy-ports' ? 'https' : 'http';
  const have = channel.get(port);
  if (roll === 1) codes.push('RESERVED_PORT');
  else if (key === 'localhost-proxy-ports') {
    if (localhost.has(port)) codes.push('DUPLICATE_ENTRY');
    localhost.add(port);
  } else if (have !== undefined && have !== want) codes.push('CONFLICT');
  else if (have === want) codes.push('DUPLICATE_ENTRY');
  else channel.set(port, want);
  return text;
}

/** Every (port, channel) probe whose resolution disagrees with channelOf / isLocalhostPort. */
function resolutionMismatches(config: PortConfig): string[] {
  const nodes = new NodeTable<string>();
  nodes.attach('edge-1', 'session', ['10.0.0.5', 'fd00::5']);
  const out: string[] = [];
  for (const port of PROBE) {
    for (const channel of ['http', 'https'] as const) {
      const byIp = port % 2 === 1;
      const r = resolve(nodes, config, { host: byIp ? '[fd00::5]' : 'EDGE-1', port }, channel);
      const want = channelOf(config, port);
      const host = isLocalhostPort(config, port) ? '127.0.0.1' : byIp ? 'fd00::5' : '10.0.0.5';
      const expected = want === undefined ? 'PORT_NOT_CONFIGURED' : want !== channel ? 'WRONG_CHANNEL' : `${want} ${host}`;
      const got = r.ok ? `${r.channel} ${r.targetHost}` : r.reason;
      if (got !== expected) out.push(`${port} on ${channel}: ${got}, expected ${expected}`);
    }
  }
  return out;
}

function applyDiff(a: PortConfig, b: PortConfig): PortConfigJSON {
  const { added, removed } = diffPortConfig(a, b);
  const apply = (set: ReadonlySet<number>, c: Channel): number[] =>
    [...set]
      .filter((p) => !removed.some((x) => x.port === p && x.channel === c))
      .concat(added.filter((x) => x.channel === c).map((x) => x.port))
      .sort((x, y) => x - y);
  return { httpPorts: apply(a.httpPorts, 'http'), httpsPorts: apply(a.httpsPorts, 'https'), localhostPorts: [...b.localhostPorts] };
}

t.test('random configs (seeded)', async (t) => {
  const rnd = seeded(0x5eed);
  let previous = parsePortConfig({}).config;
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const { data, expected, codes } = generate(rnd);
    const { config, rejected } = parsePortConfig(data);
    const label = JSON.stringify(data);
    if (!t.strictSame(portConfigToJSON(config), expected, `oracle ${label}`)) break;
    t.strictSame(
      rejected.map((r) => r.code),
      codes,
      `rejects ${label}`,
    );
    t.strictSame(portConfigFromJSON(JSON.parse(JSON.stringify(portConfigToJSON(config)))), config, 'JSON round trip');
    t.strictSame(parsePortConfig(portConfigToData(config)), { config, rejected: [] }, 'data round trip');
    t.strictSame(applyDiff(previous, config), portConfigToJSON(config), 'diff takes previous to config');
    t.strictSame(resolutionMismatches(config), [], 'resolution agrees with channelOf');
    previous = config;
    for (const r of rejected) seen.add(r.code);
  }
  t.strictSame(
    [...seen].sort(),
    ['CONFLICT', 'DUPLICATE_ENTRY', 'EMPTY_ENTRY', 'INVALID_PAIR', 'INVALID_PORT', 'RESERVED_PORT', 'UNKNOWN_KEY'],
    'the generator reached every reject code',
  );
});
