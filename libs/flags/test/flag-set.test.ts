import t from 'tap';
import { FlagSet, bool, count, custom, int, list, ms, oneOf, reject, text, type Uncovered } from '../src/index.js';

interface Demo {
  addr: string;
  level: 'info' | 'debug';
  workers: number;
  gzip: boolean;
  timeoutMs: number;
  ips: string[];
  ratio: number;
  name?: string;
  token: string;
}

const FLAGS = [
  { name: 'addr', key: 'addr', type: text(), default: ':80', help: 'listen address' },
  { name: 'level', key: 'level', type: oneOf(['info', 'debug']), default: 'info', help: 'log level' },
  { name: 'workers', key: 'workers', type: int(1, 8), default: '2', help: 'workers' },
  { name: 'gzip', key: 'gzip', type: bool(), default: 'false', help: 'compress' },
  { name: 'timeout-ms', key: 'timeoutMs', type: ms(), default: '1000', help: 'timeout' },
  { name: 'ip', key: 'ips', type: list('IP addresses'), default: '', env: 'NODE_IP', help: 'an address, repeatable' },
  {
    name: 'ratio',
    key: 'ratio',
    type: custom('a fraction between 0 and 1', (s) => (/^0?\.\d+$/.test(s) ? Number(s) : reject(s))),
    default: '0.5',
    help: 'ratio',
  },
  { name: 'name', key: 'name', type: text(), defaultText: '$HOSTNAME', help: 'name' },
  { name: 'token', key: 'token', type: text(), required: true, help: 'token' },
] as const satisfies readonly import('../src/index.js').FlagSpec<Demo>[];

// the table fills every key of Demo (this line fails to compile when an entry is missing)
const complete: [Uncovered<Demo, typeof FLAGS>] extends [never] ? true : false = true;
const set = new FlagSet<Demo>({ binary: 'demo', envPrefix: 'DEMO_', flags: FLAGS });
const parse = (argv: string[], env: Record<string, string> = {}): Demo => {
  const r = set.parse(['--token', 'x', ...argv], env);
  if (r.help) throw new Error('help');
  return r.values;
};

t.test('defaults, flag > env > default, blank is unset', async (t) => {
  t.ok(complete);
  t.same(
    parse([]),
    { addr: ':80', level: 'info', workers: 2, gzip: false, timeoutMs: 1000, ips: [], ratio: 0.5, token: 'x' },
    'every key with a default is set; name stays absent',
  );
  t.equal(parse(['--addr', ':81'], { DEMO_ADDR: ':82' }).addr, ':81');
  t.equal(parse([], { DEMO_ADDR: ':82' }).addr, ':82');
  t.equal(parse(['--addr='], { DEMO_ADDR: ':82' }).addr, ':82', 'a blank flag is no value');
  t.equal(parse([], { DEMO_ADDR: '  ' }).addr, ':80', 'a blank env is no value');
  t.equal(parse(['--workers', '3', '--workers=4']).workers, 4, 'a scalar given twice: the last');
});

t.test('booleans: --x, --x=v, --x on|off; lists: repeat and both separators', async (t) => {
  t.equal(parse(['--gzip']).gzip, true);
  t.equal(parse(['--gzip=off']).gzip, false);
  t.equal(parse(['--gzip', 'on']).gzip, true);
  t.equal(parse(['--gzip', 'false', '--addr', 'a']).gzip, false);
  t.match(parse(['--gzip', '--addr', 'a']), { gzip: true, addr: 'a' }, 'a bare bool before another flag');
  t.same(parse([], { DEMO_GZIP: 'yes' }).gzip, true);
  t.same(parse(['--ip', 'a', '--ip=b;c', '--ip', 'd,a']).ips, ['a', 'b', 'c', 'd'], 'repeats accumulate, ; and , separate, duplicates dropped');
  t.same(parse([], { NODE_IP: 'a, b' }).ips, ['a', 'b'], 'an entry names its own env variable');
});

t.test('one error sentence: the flag, its env, what it must be, what it got', async (t) => {
  const cases: Array<[string[], Record<string, string>, string, string]> = [
    [['--workers', '9'], {}, '--workers', '--workers (env DEMO_WORKERS) must be a whole number from 1 to 8, got "9"'],
    [[], { DEMO_LEVEL: 'loud' }, '--level', '--level (env DEMO_LEVEL) must be one of info, debug, got "loud"'],
    [['--gzip=maybe'], {}, '--gzip', '--gzip (env DEMO_GZIP) must be true or false (or on, off), got "maybe"'],
    [['--gzip', 'maybe'], {}, '--gzip', '--gzip (env DEMO_GZIP) must be true or false (or on, off), got "maybe"'],
    [['--timeout-ms', '0'], {}, '--timeout-ms', '--timeout-ms (env DEMO_TIMEOUT_MS) must be a whole number of milliseconds ≥ 1, got "0"'],
    [
      ['--timeout-ms', '99999999999'],
      {},
      '--timeout-ms',
      '--timeout-ms (env DEMO_TIMEOUT_MS) must be a whole number of milliseconds ≥ 1, got "99999999999" (at most 86400000)',
    ],
    [['--ratio', '2'], {}, '--ratio', '--ratio (env DEMO_RATIO) must be a fraction between 0 and 1, got "2"'],
    [['--bogus'], {}, '--bogus', 'unknown argument "--bogus" (see --help)'],
    [['stray'], {}, 'stray', 'unexpected argument "stray" (see --help)'],
    [['--addr'], {}, '--addr', '--addr needs a value'],
  ];
  for (const [argv, env, flag, message] of cases) {
    t.throws(() => parse(argv, env), { name: 'FlagError', code: 'ERR_FLAG_INVALID', flag, message }, message);
  }
  t.throws(() => set.parse([], {}), { flag: '--token', message: '--token is required (or set DEMO_TOKEN)' });
  t.throws(
    () => set.parse(['--workers', '0'], {}),
    { flag: '--workers', message: /^--workers .* got "0"$/ },
    'a bad value given is reported before a flag not given',
  );
  t.throws(
    () =>
      new FlagSet<{ a: string }>({
        binary: 'x',
        envPrefix: 'X_',
        flags: [
          { name: 'a', key: 'a', type: text(), default: '1', help: '' },
          { name: 'a', key: 'a', type: text(), default: '1', help: '' },
        ],
      }),
    /--a \(a\) is listed twice/,
  );
});

t.test('--help: syntax, help, default and env of every flag', async (t) => {
  const r = set.parse(['--addr', 'x', '--help']);
  t.equal(r.help, true);
  const text = set.usage();
  t.match(text, /^usage: demo \[flags\]\n/);
  t.match(text, /--workers <value>\s+workers \(default 2\)\n\s+env DEMO_WORKERS/);
  t.match(text, /--gzip\[=bool\]\s+compress \(default false\)/);
  t.match(text, /--ip <value> …\s+an address, repeatable\n\s+env NODE_IP/);
  t.match(text, /--name <value>\s+name \(default \$HOSTNAME\)/);
  t.match(text, /--token <value>\s+token \(required\)\n/);
  t.equal(set.flagOf('timeoutMs'), '--timeout-ms');
  t.equal(count().parse('7'), 7);
});
