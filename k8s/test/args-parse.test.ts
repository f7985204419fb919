// The rendered manifests' args and env, as the kubelet expands them, through the real parsers of
// edge-tunnel-server and edge-tunnel-agent: every flag the manifests set exists and its value parses
// (a flag renamed or a syntax dropped in the flag tables fails here, not in a cluster).
import { parseConfig as parseAgent } from '@edge-tunnel/agent';
import { parseConfig as parseServer } from '@edge-tunnel/server';
import t from 'tap';
import { NAMES } from './fixtures/kinds.js';
import { containersOf, find, type Obj } from './fixtures/objects.js';
import { kubectlMissing, rendered, TREES } from './fixtures/render.js';

const skip = kubectlMissing();

/** What the downward API gives a pod (fieldRef values), for the expansion. */
const FIELDS: Record<string, string> = { 'spec.nodeName': 'edge-1', 'status.hostIP': '10.0.0.5', 'status.podIP': '10.244.1.7' };

/** The container's env as the process sees it, and its args after the script, `$(VAR)` expanded. */
function processOf(o: Obj): { argv: string[]; env: Record<string, string> } {
  const c = containersOf(o)[0];
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath as string | undefined;
    if (e.value !== undefined || field !== undefined) env[e.name] = e.value ?? FIELDS[field!] ?? '';
  }
  const expand = (a: unknown): string => String(a).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
  const args: string[] = (c.args ?? []).map(expand);
  return { argv: args.slice(args.findIndex((a) => a.endsWith('main.js')) + 1), env };
}

for (const [tree, dir] of Object.entries(TREES)) {
  t.test(`${tree}: the server and agent args parse`, { skip }, async (t) => {
    const objs = rendered(dir);
    const server = processOf(find(objs, 'Deployment', NAMES.server)!);
    const s = parseServer(server.argv, server.env);
    t.equal(s.help, false);
    t.match(!s.help && s.config, {
      kubernetes: true,
      capture: tree === 'base' ? 'dns' : 'iptables',
      advertiseAddr: '10.244.1.7:10262',
      drainTimeoutMs: 20_000,
    });
    const agent = processOf(find(objs, 'DaemonSet', NAMES.agent)!);
    const a = parseAgent(agent.argv, agent.env);
    t.equal(a.help, false);
    t.match(!a.help && a.config, { nodeName: 'edge-1', nodeIps: ['10.0.0.5'], bootstrapTokenFile: '/etc/edge-tunnel/bootstrap/token', localhostPorts: [] });
    t.same(
      !a.help && a.config.replicaCidrs,
      tree === 'base' ? [] : ['10.244.0.0/16'],
      'an empty $(REPLICA_CIDRS) is the empty list (unset: private ranges on the --server port)',
    );
  });
}

t.test('a manifest flag the binary does not have fails here', { skip }, async (t) => {
  const server = processOf(find(rendered(TREES.base), 'Deployment', NAMES.server)!);
  t.throws(() => parseServer([...server.argv, '--no-such-flag=1'], server.env), {
    code: 'ERR_SERVER_INVALID_CONFIG',
    message: /unknown argument "--no-such-flag"/,
  });
});
