import t from 'tap';
import { FlagSet, int, readmeFlagProblems, readmeFlagRows, text } from '../src/index.js';

const set = new FlagSet<{ a: string; b: number; c?: string; d?: string }>({
  binary: 'demo',
  envPrefix: 'DEMO_',
  flags: [
    { name: 'a', key: 'a', type: text(), default: ':80', help: 'a' },
    { name: 'b', key: 'b', type: int(1, 9), default: '2', help: 'b' },
    { name: 'c', key: 'c', type: text(), help: 'c' },
    { name: 'd', key: 'd', type: text(), defaultText: 'off', help: 'd' },
  ],
});

const good = [
  'Intro.',
  '',
  '| flag | env | default | meaning |',
  '| --- | --- | --- | --- |',
  '| `--a host:port` | `DEMO_A` | `:80` | a \\| b |',
  '| `--b` | `DEMO_B` (`;`-separated) | 2 (two) | b |',
  '| `--help` | | | usage |',
  '',
  'Later:',
  '',
  '| flag | env | default | meaning |',
  '| --- | --- | --- | --- |',
  '| `--c` | `DEMO_C` | none | c |',
  '| `--d` | `DEMO_D` | `off` (until set) | d |',
].join('\n');

t.test('rows of every flag table', async (t) => {
  t.match(readmeFlagRows(good), [
    { flags: ['a'], env: ['DEMO_A'], default: ':80' },
    { flags: ['b'], default: '2' },
    { flags: ['help'] },
    { flags: ['c'] },
    { flags: ['d'], default: 'off' },
  ]);
  t.match(
    readmeFlagRows('| flag | env | default | meaning |\n| --- |\n| `--c`, `--d` | `DEMO_C`, `DEMO_D` | none | both |\n'),
    [{ flags: ['c', 'd'], env: ['DEMO_C', 'DEMO_D'], default: 'none' }],
    'several flags in one row',
  );
});

t.test('agreement, and each kind of drift named', async (t) => {
  t.same(readmeFlagProblems(set, good), []);
  const problems = readmeFlagProblems(
    set,
    good.replace('`:80` |', '`:81` |').replace('`DEMO_B`', '`DEMO_BB`').replace('| `--help`', '| `--e` | `DEMO_E` | none | e |\n| `--help`'),
  );
  t.match(problems, [/--a default is ":80", the README says ":81"/, /--b env is DEMO_B, the README says DEMO_BB/, /--e is not a flag of demo/]);
  t.same(readmeFlagProblems(set, good.replace(/\n\| `--b`.*\n/, '\n')), ["--b is missing from the README's flag tables"]);
  t.match(readmeFlagProblems(set, good.replace('`off` (until set)', 'none')), [/--d default is "off", the README says "none"/]);
  t.match(readmeFlagProblems(set, `${good}\n| \`--a\` | \`DEMO_A\` | \`:80\` | again |`), [/--a is listed again \(first on line 5\)/]);
});
