// Services created through the API get a clusterIP as kube-apiserver's allocator gives one (the
// edge-tunnel server reads it in DNS capture mode); headless and ExternalName Services get none.
import { CoreV1Api } from '@kubernetes/client-node';
import t from 'tap';
import { withClient } from './fixtures/client.js';

t.test('created Services get a free clusterIP; a given one, None and ExternalName are kept', async (t) => {
  const { server, kc } = await withClient(t);
  const core = kc.makeApiClient(CoreV1Api);
  const ports = [{ port: 80 }];
  const create = (name: string, spec: Record<string, unknown>) => core.createNamespacedService({ namespace: 'kube-system', body: { metadata: { name }, spec: { ports, ...spec } } });
  const a = await create('a', {});
  const b = await create('b', { type: 'LoadBalancer' });
  t.match(a.spec?.clusterIP, /^10\.96\.\d+\.\d+$/);
  t.same(a.spec?.clusterIPs, [a.spec?.clusterIP]);
  t.not(b.spec?.clusterIP, a.spec?.clusterIP, 'two Services, two addresses');
  t.equal((await create('given', { clusterIP: '10.96.7.7' })).spec?.clusterIP, '10.96.7.7');
  t.equal((await create('headless', { clusterIP: 'None' })).spec?.clusterIP, 'None');
  t.equal((await create('ext', { type: 'ExternalName', externalName: 'example.invalid' })).spec?.clusterIP, undefined);
  t.equal((server.store.get('services', 'kube-system', 'a')?.spec as { clusterIP?: string }).clusterIP, a.spec?.clusterIP, 'stored as answered');
});
