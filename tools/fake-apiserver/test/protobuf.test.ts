import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { decodeKubeProtobuf } from '../src/protobuf.js';
import { withServer } from './fixtures/harness.js';

const KUBECTL = '/usr/bin/kubectl';
const run = promisify(execFile);

/** Protobuf wire helpers: a length-delimited field and a varint field. */
const ld = (field: number, value: Buffer | string): Buffer => {
  const bytes = Buffer.from(value);
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
};
const vi = (field: number, value: number): Buffer => Buffer.concat([varint(field << 3), varint(value)]);
function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return Buffer.from(out);
}
const envelope = (kind: string, raw: Buffer): Buffer =>
  Buffer.concat([Buffer.from('k8s\0', 'binary'), ld(1, Buffer.concat([ld(1, 'v1'), ld(2, kind)])), ld(2, raw), ld(3, ''), ld(4, '')]);

t.test('decodes the runtime.Unknown envelope and the Secret message', async (t) => {
  const meta = Buffer.concat([
    ld(1, 's1'),
    ld(2, ''),
    ld(3, 'kube-system'),
    vi(7, 0),
    ld(11, Buffer.concat([ld(1, 'app'), ld(2, 'x')])),
    ld(14, 'f1'),
    ld(14, 'f2'),
  ]);
  const secret = Buffer.concat([
    ld(1, meta),
    ld(2, Buffer.concat([ld(1, 'bin'), ld(2, Buffer.from([0, 255]))])),
    ld(3, 'Opaque'),
    vi(5, 1),
    Buffer.from([0x7d, 1, 2, 3, 4]),
  ]);
  t.same(
    decodeKubeProtobuf(envelope('Secret', secret)),
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's1', namespace: 'kube-system', generation: 0, labels: { app: 'x' }, finalizers: ['f1', 'f2'] },
      data: { bin: 'AP8=' },
      type: 'Opaque',
      immutable: true,
    },
    'empty strings dropped, bytes as base64, a fixed32 field (15) skipped',
  );
  const bad = (buf: Buffer, message: RegExp, what: string): void => {
    t.throws(() => decodeKubeProtobuf(buf), { reason: 'BadRequest', message }, what);
  };
  bad(Buffer.from('{"kind":"Secret"}'), /k8s\\0 envelope/, 'JSON labelled as protobuf');
  bad(Buffer.concat([envelope('Secret', Buffer.alloc(0)).subarray(0, 8)]), /truncated/, 'a cut envelope');
  bad(envelope('Secret', Buffer.from([0x08, 0xff])), /truncated protobuf body \(varint\)/, 'a cut varint');
  bad(envelope('Secret', Buffer.from([0x0b])), /wire type 3/, 'group wire types');
  bad(envelope('Secret', vi(1, 5)), /metadata: wire type 0/, 'a varint where a message belongs');
  bad(envelope('Secret', ld(5, 'x')), /immutable: wire type 2/, 'bytes where a bool belongs');
  t.throws(() => decodeKubeProtobuf(envelope('Pod', Buffer.alloc(0))), {
    reason: 'UnsupportedMediaType',
    message: /Secret, ConfigMap, Namespace only, not Pod: send application\/json/,
  });
});

t.test('a protobuf body of another kind over HTTP is a 415 Status, and the server keeps serving', async (t) => {
  const server = await withServer(t);
  const post = (body: Buffer, type: string): Promise<{ status: number; json: { reason?: string; message?: string } }> =>
    new Promise((resolve, reject) => {
      const req = request(`${server.url}/api/v1/namespaces/default/pods`, { method: 'POST', headers: { 'content-type': type } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { reason?: string } }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const pod = await post(envelope('Pod', Buffer.alloc(0)), 'application/vnd.kubernetes.protobuf');
  t.equal(pod.status, 415);
  t.match(pod.json.message, /not Pod/);
  const yaml = await post(Buffer.from('kind: Pod'), 'application/yaml');
  t.equal(yaml.status, 415);
  t.match(yaml.json.message, /accepted media types include: application\/json, application\/vnd\.kubernetes\.protobuf/);
  const ok = await post(Buffer.from('{"metadata":{"name":"p"}}'), 'application/json');
  t.equal(ok.status, 201, 'JSON still works after the refusals');
});

t.test(
  'kubectl create secret/configmap/namespace (protobuf bodies) against the fake server',
  { skip: existsSync(KUBECTL) ? false : `${KUBECTL} is absent` },
  async (t) => {
    const server = await withServer(t);
    const dir = t.testdir();
    const kubeconfig = join(dir, 'kubeconfig');
    server.kubeconfig(kubeconfig);
    const kubectl = async (...args: string[]): Promise<string> => {
      const { stdout } = await run(KUBECTL, ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], {
        env: { PATH: process.env.PATH ?? '/usr/bin', HOME: dir },
        timeout: 20_000,
      });
      return stdout;
    };
    writeFileSync(join(dir, 'ca.crt'), 'not really a certificate\n');
    const binary = Buffer.from([0, 1, 2, 0xfe, 0xff]);
    writeFileSync(join(dir, 'blob'), binary);
    t.match(
      await kubectl('-n', 'kube-system', 'create', 'secret', 'generic', 's1', '--from-literal=token=abc', `--from-file=ca.crt=${join(dir, 'ca.crt')}`),
      'secret/s1 created',
    );
    const s1 = server.store.get('secrets', 'kube-system', 's1')!;
    t.same(s1.data, { token: Buffer.from('abc').toString('base64'), 'ca.crt': Buffer.from('not really a certificate\n').toString('base64') });
    t.equal(s1.type, 'Opaque', 'the default type, as the apiserver sets it');
    const [crt, key] = [join(dir, 'tls.crt'), join(dir, 'tls.key')];
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      crt,
      '-subj',
      '/CN=kubelet-client',
      '-days',
      '1',
    ]);
    t.match(await kubectl('-n', 'kube-system', 'create', 'secret', 'tls', 't1', `--cert=${crt}`, `--key=${key}`), 'secret/t1 created');
    const t1 = server.store.get('secrets', 'kube-system', 't1')!;
    t.equal(t1.type, 'kubernetes.io/tls');
    t.equal(Buffer.from((t1.data as Record<string, string>)['tls.crt']!, 'base64').toString(), readFileSync(crt, 'utf8'));
    t.match(await kubectl('create', 'configmap', 'c1', '--from-literal=k=v', `--from-file=blob=${join(dir, 'blob')}`), 'configmap/c1 created');
    const c1 = server.store.get('configmaps', 'default', 'c1')!;
    t.same(c1.data, { k: 'v' });
    t.same(c1.binaryData, { blob: binary.toString('base64') });
    t.match(await kubectl('create', 'namespace', 'n1'), 'namespace/n1 created');
    t.ok(server.store.get('namespaces', undefined, 'n1'));
  },
);
