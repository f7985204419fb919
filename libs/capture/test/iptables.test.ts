import t from 'tap';
import { COMMAND_NOT_FOUND, COMMAND_TIMED_OUT, createRunner } from '../src/index.js';

const node = process.execPath;

t.test('createRunner passes stdin and returns code, stdout, stderr', async (t) => {
  const run = createRunner();
  const res = await run.run(
    node,
    ['-e', 'process.stdin.pipe(process.stdout); process.stderr.write("e"); process.stdin.on("end", () => process.exitCode = 3)'],
    '*nat\nCOMMIT\n',
  );
  t.strictSame(res, { code: 3, stdout: '*nat\nCOMMIT\n', stderr: 'e' });
  t.equal((await run.run(node, ['-e', ''])).code, 0, 'no stdin: empty');
});

t.test('a missing command is 127, a hung one is killed with 124', async (t) => {
  const missing = await createRunner().run('et-cap-no-such-command', ['x']);
  t.equal(missing.code, COMMAND_NOT_FOUND);
  t.match(missing.stderr, /ENOENT/);
  const hung = await createRunner({ timeoutMs: 200 }).run(node, ['-e', 'setTimeout(() => {}, 10000)']);
  t.equal(hung.code, COMMAND_TIMED_OUT);
  t.match(hung.stderr, /killed after 200 ms/);
});

t.test('a command that exits without reading stdin does not crash the runner', async (t) => {
  const res = await createRunner().run(node, ['-e', 'process.exit(0)'], 'x'.repeat(1 << 20));
  t.equal(res.code, 0);
});
