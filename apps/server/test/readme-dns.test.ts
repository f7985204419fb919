// The READMEs say what the DNS capture code does: the hosts ConfigMap key is DNS_HOSTS_KEY (the server
// README once named it `hosts`), CoreDNS mounts that key, and in DNS mode the server itself keeps the
// internal Service's ports (the READMEs once said they were left to the manifests / edited by hand);
// the table of names left out of the hosts file lists exactly DnsNameRefusal.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { DnsNameRefusal } from '@edge-tunnel/kube';
import { DNS_HOSTS_KEY } from '../src/cluster/capture.js';

const read = (rel: string): Promise<string> => readFile(fileURLToPath(new URL(rel, import.meta.url)), 'utf8');
const server = await read('../README.md');
const k8s = await read('../../../k8s/README.md');
const kube = await read('../../../libs/kube/README.md');
const oneLine = (s: string): string => s.replace(/\s+/g, ' ');

t.test('the hosts ConfigMap key named in the READMEs is the one the server writes', async (t) => {
  const keys = (text: string): string[] => [...oneLine(text).matchAll(/\bkey `([^`]+)`/g)].map((m) => m[1]!);
  t.ok(keys(server).length >= 2, 'the server README names the key (flags table and DNS capture)');
  t.strictSame([...new Set(keys(server))], [DNS_HOSTS_KEY], `server README: every "key \`…\`" is ${DNS_HOSTS_KEY}`);
  t.strictSame([...new Set(keys(k8s))], [DNS_HOSTS_KEY], 'k8s README too');
  t.match(k8s, `hosts /etc/edge-tunnel/${DNS_HOSTS_KEY} {`, 'the Corefile block reads that key');
  t.match(kube, `key = '${DNS_HOSTS_KEY}'`, 'the DnsHostsWriter default in libs/kube README');
});

t.test('no README says the internal Service ports are left to the manifests or edited by hand', async (t) => {
  for (const [name, text] of [
    ['server', server],
    ['k8s', k8s],
    ['kube', kube],
  ] as const) {
    t.notMatch(oneLine(text), /left to the manifests|must be on the internal Service|edited by hand|by hand on the internal/i, name);
  }
  t.match(oneLine(server), /The leader also owns the internal Service's ports/, 'the server README says the leader patches them');
  t.match(
    oneLine(k8s),
    /nothing on `Service\/edge-tunnel-server-internal`: in DNS mode the server's leader adds the port/,
    'the k8s README says so where a port is opened',
  );
});

t.test('the README table of names left out of the hosts file lists exactly DnsNameRefusal', async (t) => {
  const at = server.indexOf('\n| code | names |\n');
  t.ok(at >= 0, 'the server README has the table');
  const rows = server
    .slice(at + 1)
    .split('\n')
    .slice(2);
  const codes = rows
    .slice(
      0,
      rows.findIndex((l) => !l.startsWith('|')),
    )
    .map((l) => /^\| `([A-Z_]+)` \|/.exec(l)?.[1] ?? `(not a code: ${l})`);
  t.strictSame(codes.sort(), Object.values(DnsNameRefusal).sort());
});
