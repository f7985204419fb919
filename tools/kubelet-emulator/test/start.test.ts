import { get } from 'node:http';
import { request } from 'node:https';
import t from 'tap';
import { startKubelet } from '../src/index.js';
import type { KubeletHandle, KubeletOptions } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { httpsGet, startTestKubelet, testCerts } from './fixtures/kubelet.js';
import type { Reply } from './fixtures/kubelet.js';
import { makeCerts } from './fixtures/certs.js';

// start.ts wiring: options, TLS client certificates, the read-only port, metrics, stats and pods.

function base(): KubeletOptions {
  const c = testCerts();
  return { nodeName: 'edge-1', host: '127.0.10.3', httpsPort: 0, httpPort: 0, tls: { cert: c.serverCert, key: c.serverKey } };
}

t.test('defaults', async (t) => {
  const o = resolveOptions({ ...base(), httpsPort: undefined, httpPort: undefined });
  t.equal(o.httpsPort, 10250);
  t.equal(o.httpPort, 10255);
  t.equal(o.logLineIntervalMs, 1000);
  t.same(o.pods, [{ namespace: 'default', name: 'demo', containers: ['app', 'sidecar'], labels: {} }]);
});

t.test('bad options are rejected with ERR_KUBELET_BAD_OPTIONS', async (t) => {
  const bad: [string, Partial<KubeletOptions>][] = [
    ['node name', { nodeName: 'Edge_1' }],
    ['host', { host: '' }],
    ['port', { httpsPort: 65536 }],
    ['interval', { logLineIntervalMs: -1 }],
    ['tls path', { tls: { cert: '/etc/cert.pem', key: 'k' } }],
    ['no containers', { pods: [{ name: 'p', containers: [] }] }],
    [
      'duplicate pod',
      {
        pods: [
          { name: 'p', containers: ['a'] },
          { name: 'p', containers: ['b'] },
        ],
      },
    ],
    ['duplicate container', { pods: [{ name: 'p', containers: ['a', 'a'] }] }],
  ];
  for (const [what, override] of bad) {
    t.throws(() => resolveOptions({ ...base(), ...override }), { code: 'ERR_KUBELET_BAD_OPTIONS' }, what);
  }
  await t.rejects(startKubelet({ ...base(), httpPort: -1 }), { code: 'ERR_KUBELET_BAD_OPTIONS' });
});

t.test('a taken port fails with ERR_KUBELET_LISTEN', async (t) => {
  const first = await startTestKubelet(t, { host: '127.0.10.3' });
  await t.rejects(startKubelet({ ...base(), httpPort: first.httpPort }), { code: 'ERR_KUBELET_LISTEN', message: /127\.0\.10\.3/ });
});

t.test('handle basics; close is idempotent', async (t) => {
  const kubelet = await startKubelet({ ...base(), logLineIntervalMs: 0 });
  t.equal(kubelet.url, `https://127.0.10.3:${kubelet.httpsPort}`);
  t.equal(kubelet.nodeName, 'edge-1');
  t.equal(kubelet.activeFollowers(), 0);
  t.equal(kubelet.execCount(), 0);
  await Promise.all([kubelet.close(), kubelet.close()]);
});

function getWithoutClientCert(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/healthz`, { ca: testCerts().ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('with ca set, a client without a certificate is refused in the handshake', async (t) => {
  const kubelet = await startTestKubelet(t);
  await t.rejects(getWithoutClientCert(kubelet.url), { code: /ERR_SSL|ECONNRESET/ });
  const ok = await httpsGet(kubelet, '/healthz');
  t.equal(ok.status, 200);
  t.equal(ok.body, 'ok');
});

t.test('a client certificate from another CA is refused', async (t) => {
  const kubelet = await startTestKubelet(t);
  const other = makeCerts();
  await t.rejects(httpsGet(kubelet, '/healthz', { cert: other.clientCert, key: other.clientKey }));
});

t.test('without ca, no client certificate is needed', async (t) => {
  const kubelet = await startTestKubelet(t, { mtls: false });
  t.equal(await getWithoutClientCert(kubelet.url), 200);
});

function httpGet(kubelet: KubeletHandle, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    get(`http://127.0.10.1:${kubelet.httpPort}${path}`, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
}

function sample(metrics: string, line: RegExp): number {
  const m = metrics.split('\n').find((l) => line.test(l));
  return m === undefined ? NaN : Number(m.split(' ').pop());
}

t.test('the read-only port serves metrics, stats, pods and healthz only', async (t) => {
  const requests: string[] = [];
  const kubelet = await startTestKubelet(t, { onRequest: (m, p, s) => requests.push(`${m} ${p} ${s}`) });
  t.not(kubelet.httpPort, kubelet.httpsPort);

  const first = await httpGet(kubelet, '/metrics');
  t.equal(first.status, 200);
  t.match(first.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  t.equal(sample(first.body, /^kubelet_running_pods /), 1);
  t.equal(sample(first.body, /^kubelet_running_containers\{/), 2);
  t.match(first.body, /# TYPE kubelet_http_requests_total counter/);
  const second = await httpGet(kubelet, '/metrics');
  const counted = /^kubelet_http_requests_total\{long_running="false",method="GET",path="metrics",server_type="readonly"\}/;
  t.equal(sample(second.body, counted), 1, 'the first scrape is counted by the second');
  t.equal(sample((await httpGet(kubelet, '/metrics')).body, counted), 2);

  t.equal((await httpGet(kubelet, '/healthz')).body, 'ok');
  t.equal((await httpGet(kubelet, '/exec/default/demo/app?command=true&stdout=true')).status, 404);
  t.equal((await httpGet(kubelet, '/containerLogs/default/demo/app')).status, 404);
  t.equal((await httpGet(kubelet, '/nope')).body, '404 page not found\n');

  const pods = JSON.parse((await httpGet(kubelet, '/pods')).body) as { kind: string; items: { metadata: { name: string }; spec: { nodeName: string } }[] };
  t.equal(pods.kind, 'PodList');
  t.match(pods.items, [
    {
      metadata: { name: 'demo', namespace: 'default' },
      spec: { nodeName: 'edge-1', containers: [{ name: 'app' }, { name: 'sidecar' }] },
      status: { phase: 'Running' },
    },
  ]);
  t.ok(requests.includes('GET /healthz 200'), 'onRequest saw the requests');
  t.ok(requests.includes('GET /nope 404'));
});

t.test('/stats/summary has the Summary API shape', async (t) => {
  const kubelet = await startTestKubelet(t, {
    pods: [
      { name: 'a', containers: ['x'] },
      { namespace: 'kube-system', name: 'b', containers: ['y', 'z'] },
    ],
  });
  const res = await httpGet(kubelet, '/stats/summary');
  t.equal(res.status, 200);
  t.equal(res.headers['content-type'], 'application/json');
  const summary = JSON.parse(res.body) as Record<string, any>;
  t.equal(summary['node'].nodeName, 'edge-1');
  t.type(summary['node'].cpu.usageNanoCores, 'number');
  t.type(summary['node'].cpu.usageCoreNanoSeconds, 'number');
  t.ok(summary['node'].memory.workingSetBytes > 0);
  t.ok(summary['node'].memory.availableBytes > 0);
  t.match(summary['pods'], [
    { podRef: { name: 'a', namespace: 'default', uid: /^[0-9a-f-]{36}$/ }, containers: [{ name: 'x' }] },
    { podRef: { name: 'b', namespace: 'kube-system' }, containers: [{ name: 'y' }, { name: 'z' }] },
  ]);
  const pod = summary['pods'][1];
  t.equal(pod.memory.workingSetBytes, pod.containers[0].memory.workingSetBytes + pod.containers[1].memory.workingSetBytes);
  t.type(pod.containers[0].cpu.usageCoreNanoSeconds, 'number');
  t.same(JSON.parse((await httpsGet(kubelet, '/stats/summary')).body).node.nodeName, 'edge-1', 'also on HTTPS');
});

t.test('HTTPS serves metrics, cadvisor metrics and refuses plain requests to stream endpoints', async (t) => {
  const kubelet = await startTestKubelet(t);
  const metrics = await httpsGet(kubelet, '/metrics');
  t.equal(sample(metrics.body, /^kubelet_running_pods /), 1);
  const cadvisor = (await httpsGet(kubelet, '/metrics/cadvisor')).body;
  t.match(cadvisor, /^container_cpu_usage_seconds_total\{container="sidecar",namespace="default",pod="demo",/m);
  t.match(cadvisor, /^container_memory_working_set_bytes\{container="app",/m);
  t.equal((await httpsGet(kubelet, '/exec/default/demo/app?command=true')).status, 400);
  t.equal((await httpsGet(kubelet, '/metrics', { method: 'POST' })).status, 405);
  t.equal((await httpsGet(kubelet, '/pods')).status, 200);
});
