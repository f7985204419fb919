import t from 'tap';
import { authorizeCaller, parseCallerAllow } from '../src/proxy/caller-auth.js';
import { parseConfig } from '../src/config.js';

const none = (): boolean => false;

t.test('parser: name/group entries, comma or repeated, duplicates dropped', async (t) => {
  t.same(parseCallerAllow(['name:a,group:g', 'name:a']), [
    { kind: 'name', value: 'a' },
    { kind: 'group', value: 'g' },
  ]);
  t.throws(() => parseCallerAllow(['cn:a']), /name:<CN> or group:<O>/);
  t.throws(() => parseCallerAllow(['group:system:nodes']), /edge node identities/);
  t.throws(() => parseCallerAllow(['name:system:node:edge-1']), /edge node identities/);
});

t.test('matcher: default allows kube-apiserver-kubelet-client only', async (t) => {
  const rules = parseCallerAllow(['name:kube-apiserver-kubelet-client']);
  t.equal(authorizeCaller({ commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] }, rules, none), undefined);
  const f = authorizeCaller({ commonName: 'someone', organizations: [] }, rules, none);
  t.equal(f?.status, 403);
  t.equal(f?.reason, 'CALLER_NOT_ALLOWED');
  t.match(f?.message, /name:kube-apiserver-kubelet-client/);
});

t.test('matcher: node identities refused even when listed by group', async (t) => {
  const rules = parseCallerAllow(['group:ops']);
  t.equal(authorizeCaller({ commonName: 'x', organizations: ['ops'] }, rules, none), undefined);
  t.equal(authorizeCaller({ commonName: 'edge-2', organizations: ['ops', 'system:nodes'] }, rules, none)?.reason, 'CALLER_NOT_ALLOWED');
  t.equal(authorizeCaller({ commonName: 'system:node:edge-2', organizations: ['ops'] }, rules, none)?.reason, 'CALLER_NOT_ALLOWED');
  t.equal(authorizeCaller({ commonName: 'edge-2', organizations: ['ops'] }, rules, (n) => n === 'edge-2')?.reason, 'CALLER_NOT_ALLOWED');
});

t.test('config: --caller-allow default and env', async (t) => {
  const base = ['--cert', 'c', '--key', 'k', '--agent-ca', 'a', '--caller-ca', 'ca'];
  const d = parseConfig(base);
  t.same(!d.help && d.config.callerAllow, [{ kind: 'name', value: 'kube-apiserver-kubelet-client' }]);
  const e = parseConfig(base, { EDGE_TUNNEL_CALLER_ALLOW: 'group:g;name:n' });
  t.same(!e.help && e.config.callerAllow, [
    { kind: 'group', value: 'g' },
    { kind: 'name', value: 'n' },
  ]);
  t.throws(() => parseConfig([...base, '--caller-allow', 'bogus']), /name:<CN> or group:<O>/);
});
