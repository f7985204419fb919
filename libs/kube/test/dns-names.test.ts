// Which node names may go into the CoreDNS hosts file: names that would shadow cluster names are refused.
import t from 'tap';
import { DnsNameRefusal, publishableNames, refuseDnsName } from '../src/index.js';

t.test('ordinary node names are published', async (t) => {
  for (const name of ['edge-1', 'ip-10-0-0-5.ec2.internal', 'node1.example.com', 'kubernetes', 'a'.repeat(63)]) {
    t.equal(refuseDnsName(name), undefined, name);
  }
});

t.test('names that shadow cluster names are refused, with a code and a sentence', async (t) => {
  const cases: Array<[string, DnsNameRefusal]> = [
    ['kubernetes.default.svc.cluster.local', DnsNameRefusal.CLUSTER_DOMAIN],
    ['cluster.local', DnsNameRefusal.CLUSTER_DOMAIN],
    ['x.pod.CLUSTER.LOCAL', DnsNameRefusal.CLUSTER_DOMAIN],
    ['kube-dns.kube-system', DnsNameRefusal.SERVICE_FORM],
    ['kubernetes.default', DnsNameRefusal.SERVICE_FORM],
    ['kube-dns.kube-system.svc', DnsNameRefusal.SERVICE_FORM],
    ['metrics.monitoring.svc', DnsNameRefusal.SERVICE_FORM],
    ['localhost', DnsNameRefusal.RESERVED],
    ['evil.localhost', DnsNameRefusal.RESERVED],
    ['edge\n10.0.0.1 kubernetes', DnsNameRefusal.INVALID_NAME],
    ['edge 1', DnsNameRefusal.INVALID_NAME],
    ['-edge', DnsNameRefusal.INVALID_NAME],
    ['a..b', DnsNameRefusal.INVALID_NAME],
    ['', DnsNameRefusal.INVALID_NAME],
    [`${'a'.repeat(64)}.example.com`, DnsNameRefusal.INVALID_NAME],
  ];
  for (const [name, code] of cases) {
    const r = refuseDnsName(name);
    t.equal(r?.code, code, JSON.stringify(name));
    t.match(r?.reason, /is not published in the DNS hosts file: .*; reach the node by IP or rename it/);
  }
  t.match(refuseDnsName('kube-dns.kube-system')?.reason, /<service>\.kube-system/);
});

t.test('the cluster domain is configurable', async (t) => {
  t.equal(refuseDnsName('a.b.svc.corp.example', 'corp.example')?.code, DnsNameRefusal.CLUSTER_DOMAIN);
  t.equal(
    refuseDnsName('kubernetes.default.svc.cluster.local', 'corp.example'),
    undefined,
    'cluster.local is no cluster name where the domain is corp.example',
  );
  t.equal(refuseDnsName('node.corp.example.', 'corp.example.')?.code, DnsNameRefusal.INVALID_NAME, 'a trailing dot is no node name');
});

t.test('publishableNames splits in input order', async (t) => {
  const { names, refused } = publishableNames(['edge-b', 'kubernetes.default.svc.cluster.local', 'edge-a', 'kube-dns.kube-system']);
  t.strictSame(names, ['edge-b', 'edge-a']);
  t.strictSame(
    refused.map((r) => [r.nodeName, r.code]),
    [
      ['kubernetes.default.svc.cluster.local', 'CLUSTER_DOMAIN'],
      ['kube-dns.kube-system', 'SERVICE_FORM'],
    ],
  );
});
