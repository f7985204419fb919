import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { PkiErrorCode, certIdentity } from '@edge-tunnel/pki';
import { CliErrorCode, initPki, issueAgent, parseNodeSpec } from '../src/index.js';
import { opensslVerifies } from './fixtures/verify.js';

const id = (dir: string, name: string) => certIdentity(readFileSync(join(dir, `${name}.crt`), 'utf8'));

t.test('parseNodeSpec', async (t) => {
  t.same(parseNodeSpec('edge-1=10.0.0.1'), { name: 'edge-1', ips: ['10.0.0.1'] });
  t.same(parseNodeSpec('edge-1=10.0.0.1, fd00::1'), { name: 'edge-1', ips: ['10.0.0.1', 'fd00::1'] });
  for (const bad of ['edge-1', 'edge-1=', '=10.0.0.1', '', 'edge-1=,']) {
    t.throws(() => parseNodeSpec(bad), { code: CliErrorCode.USAGE }, JSON.stringify(bad));
  }
});

t.test('initPki writes the whole set, chained to one CA, with the right names and purposes', async (t) => {
  const out = join(t.testdir(), 'pki');
  const { files } = await initPki({
    out,
    serverDns: ['tunnel.example', 'localhost'],
    serverIps: ['10.96.0.10'],
    nodes: [
      { name: 'edge-1', ips: ['10.0.0.1', '10.0.0.2'] },
      { name: 'edge-2', ips: ['10.0.0.3'] },
    ],
    validityDays: 30,
  });
  const names = ['ca', 'server', 'kubelet-client', 'caller', 'agent-edge-1', 'agent-edge-2'];
  t.same(
    files,
    names.flatMap((n) => [join(out, `${n}.crt`), join(out, `${n}.key`)]),
  );
  t.same(readdirSync(out).sort(), files.map((f) => f.slice(out.length + 1)).sort(), 'nothing else in the directory');
  for (const n of names) t.equal(statSync(join(out, `${n}.key`)).mode & 0o777, 0o600, `${n}.key is 0600`);

  t.match(id(out, 'ca'), { commonName: 'edge-tunnel-ca' });
  t.match(id(out, 'server'), {
    commonName: 'edge-tunnel-server',
    dnsNames: ['localhost', 'edge-tunnel-server', 'tunnel.example'],
    ips: ['127.0.0.1', '10.96.0.10'],
    issuerCommonName: 'edge-tunnel-ca',
  });
  t.match(id(out, 'kubelet-client'), { commonName: 'edge-tunnel-server-kubelet-client', organization: [] });
  t.match(id(out, 'caller'), { commonName: 'kube-apiserver-kubelet-client' });
  t.match(id(out, 'agent-edge-1'), { commonName: 'edge-1', organization: ['system:nodes'], ips: ['10.0.0.1', '10.0.0.2'] });
  t.match(id(out, 'agent-edge-2'), { commonName: 'edge-2', ips: ['10.0.0.3'] });
  const server = id(out, 'server');
  t.equal(Math.round((server.notAfter.getTime() - server.notBefore.getTime()) / 86400000), 30);

  const ca = join(out, 'ca.crt');
  t.ok(await opensslVerifies(ca, join(out, 'server.crt'), 'sslserver'));
  for (const n of ['kubelet-client', 'caller', 'agent-edge-1', 'agent-edge-2']) {
    t.ok(await opensslVerifies(ca, join(out, `${n}.crt`), 'sslclient'), `${n} verifies as a client`);
  }

  t.test('refuses to overwrite the CA without force, replaces it with force', async (t) => {
    const before = id(out, 'ca').fingerprint256;
    await t.rejects(initPki({ out }), { code: CliErrorCode.EXISTS, message: /ca\.crt already exists.*--force/ });
    t.equal(id(out, 'ca').fingerprint256, before, 'CA untouched');
    await initPki({ out, force: true });
    t.not(id(out, 'ca').fingerprint256, before, 'CA replaced');
    t.match(id(out, 'server'), { dnsNames: ['localhost', 'edge-tunnel-server'], ips: ['127.0.0.1'] }, 'default SANs');
  });

  t.test('issueAgent adds one agent from the existing CA', async (t) => {
    const elsewhere = join(t.testdir(), 'edge-3');
    const { files } = await issueAgent({ caDir: out, node: { name: 'edge-3', ips: ['10.0.0.9'] }, out: elsewhere });
    t.same(files, [join(elsewhere, 'agent-edge-3.crt'), join(elsewhere, 'agent-edge-3.key')]);
    t.match(id(elsewhere, 'agent-edge-3'), { commonName: 'edge-3', ips: ['10.0.0.9'], issuerCommonName: 'edge-tunnel-ca' });
    t.ok(await opensslVerifies(join(out, 'ca.crt'), files[0]!, 'sslclient'));

    await issueAgent({ caDir: out, node: { name: 'edge-4', ips: ['10.0.0.4'] } });
    t.ok(existsSync(join(out, 'agent-edge-4.crt')), 'out defaults to the CA directory');
    await t.rejects(issueAgent({ caDir: out, node: { name: 'edge-4', ips: ['10.0.0.4'] } }), { code: CliErrorCode.EXISTS });
  });
});

t.test('initPki rejects bad input and writes nothing', async (t) => {
  const out = join(t.testdir(), 'pki');
  await t.rejects(
    initPki({
      out,
      nodes: [
        { name: 'edge-1', ips: ['10.0.0.1'] },
        { name: 'edge-1', ips: ['10.0.0.2'] },
      ],
    }),
    { code: CliErrorCode.USAGE },
  );
  await t.rejects(initPki({ out, nodes: [{ name: 'edge-1', ips: ['10.0.0.300'] }] }), { code: PkiErrorCode.INVALID_OPTIONS });
  await t.rejects(initPki({ out, serverDns: ['bad name'] }), { code: PkiErrorCode.INVALID_OPTIONS });
  t.notOk(existsSync(out), 'output directory never created');
});

t.test('issueAgent without a CA', async (t) => {
  const dir = t.testdir();
  await t.rejects(issueAgent({ caDir: dir, node: { name: 'edge-1', ips: ['10.0.0.1'] } }), { code: PkiErrorCode.FILE_NOT_FOUND });
});
