import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { certIdentity } from '@edge-tunnel/pki';
import { ExitCode, USAGE, run } from '../src/index.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

t.test('help', async (t) => {
  for (const argv of [['--help'], ['-h'], ['help'], ['init', '--help'], ['agent', '-h']]) {
    t.same(await cli(...argv), { code: ExitCode.OK, out: USAGE, err: '' }, argv.join(' '));
  }
  t.match(USAGE, /--server-dns NAME[\s\S]*localhost, edge-tunnel-server/);
});

t.test('usage errors exit 2 with a reason and the usage on stderr', async (t) => {
  const cases: [string[], RegExp][] = [
    [[], /a command is required/],
    [['bogus'], /unknown command "bogus"/],
    [['init'], /--out is required/],
    [['init', '--out', 'x', '--bogus'], /Unknown option '--bogus'/],
    [['init', '--out', 'x', 'extra'], /positional/i],
    [['init', '--out', 'x', '--days', '1.5'], /--days must be a positive whole number/],
    [['init', '--out', 'x', '--days', '0'], /--days must be a positive whole number/],
    [['init', '--out', 'x', '--node', 'edge-1'], /--node must look like name=ip/],
    [['init', '--out', 'x', '--ca-dir', 'y'], /Unknown option '--ca-dir'/],
    [['agent', '--node', 'edge-1=10.0.0.1'], /--ca-dir is required/],
    [['agent', '--ca-dir', 'x'], /--node is required/],
  ];
  for (const [argv, reason] of cases) {
    const r = await cli(...argv);
    t.equal(r.code, ExitCode.USAGE, argv.join(' '));
    t.match(r.err, reason);
    t.match(r.err, /Usage: edge-tunnel-pki/);
    t.equal(r.out, '');
  }
});

t.test('init, init again, agent', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'pki');
  const first = await cli(
    'init',
    '--out',
    out,
    '--server-dns',
    'tunnel.example',
    '--server-ip',
    '10.96.0.10',
    '--node',
    'edge-1=10.0.0.1,10.0.0.2',
    '--days',
    '10',
  );
  t.equal(first.code, ExitCode.OK, first.err);
  t.equal(first.out.split('\n').filter((l) => l.startsWith('wrote ')).length, 10);
  t.match(first.out, `wrote ${join(out, 'agent-edge-1.key')}`);
  const server = certIdentity(readFileSync(join(out, 'server.crt'), 'utf8'));
  t.same(server.dnsNames, ['localhost', 'edge-tunnel-server', 'tunnel.example']);
  t.same(server.ips, ['127.0.0.1', '10.96.0.10']);
  t.same(certIdentity(readFileSync(join(out, 'agent-edge-1.crt'), 'utf8')).ips, ['10.0.0.1', '10.0.0.2']);

  const again = await cli('init', '--out', out);
  t.equal(again.code, ExitCode.FAILED);
  t.match(again.err, /already exists; pass --force.*\(ERR_PKI_CLI_EXISTS\)/);

  const agent = await cli('agent', '--ca-dir', out, '--node', 'edge-2=10.0.0.5', '--out', join(dir, 'edge-2'));
  t.equal(agent.code, ExitCode.OK, agent.err);
  t.equal(agent.out, `wrote ${join(dir, 'edge-2', 'agent-edge-2.crt')}\nwrote ${join(dir, 'edge-2', 'agent-edge-2.key')}\n`);

  const badIp = await cli('agent', '--ca-dir', out, '--node', 'edge-3=10.0.0.500');
  t.equal(badIp.code, ExitCode.FAILED);
  t.match(badIp.err, /"10\.0\.0\.500" is not an IPv4 or IPv6 address \(ERR_PKI_INVALID_OPTIONS\)/);

  const noCa = await cli('agent', '--ca-dir', join(dir, 'nowhere'), '--node', 'edge-3=10.0.0.5');
  t.equal(noCa.code, ExitCode.FAILED);
  t.match(noCa.err, /ca\.crt does not exist \(ERR_PKI_FILE_NOT_FOUND\)/);
});
