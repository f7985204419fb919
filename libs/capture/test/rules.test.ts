import t from 'tap';
import { EMPTY_PORT_CONFIG, channelOf, parsePortConfig } from '@edge-tunnel/dnat';
import type { PortConfig } from '@edge-tunnel/dnat';
import { CaptureErrorCode, SkipReason, parseNatState, planRules, renderRules, renderTeardown } from '../src/index.js';
import type { NatState, RenderInput } from '../src/index.js';

const HTTPS = { ip: '10.244.0.1', port: 10263 };
const HTTP = { ip: '10.244.0.1', port: 10264 };
const config = (data: Record<string, string>): PortConfig => parsePortConfig(data).config;
const input = (over: Partial<RenderInput> = {}): RenderInput => ({
  nodeIps: ['10.0.0.5'],
  config: EMPTY_PORT_CONFIG,
  httpsTarget: HTTPS,
  httpTarget: HTTP,
  ...over,
});

/** The expected lines, written from the inputs (prefix P, ports with targets, ips); `other` adds the
 * catch-all of every other port to the HTTP listener (the default). */
function expected(p: string, ports: [number, string][], ips: string[], tail: string[] = [], other = true): string {
  const decl = [
    `:${p}-OUTPUT - [0:0]`,
    `:${p}-PREROUTING - [0:0]`,
    ...ports.map(([port]) => `:${p}-PORT-${port} - [0:0]`),
    ...(other ? [`:${p}-OTHER - [0:0]`] : []),
  ];
  const dispatch = (hook: string) => [
    ...ports.map(([port]) => `-A ${p}-${hook} -p tcp --dport ${port} -m comment --comment "edge-tunnel: ${port}" -j ${p}-PORT-${port}`),
    ...(other ? [`-A ${p}-${hook} -p tcp -m comment --comment "edge-tunnel: other ports" -j ${p}-OTHER`] : []),
  ];
  const dnat = ports.flatMap(([port, target]) =>
    ips.map(
      (ip) =>
        `-A ${p}-PORT-${port} -d ${ip}/32 -p tcp --dport ${port} -m comment --comment "edge-tunnel: ${ip} ${port}" ` + `-j DNAT --to-destination ${target}`,
    ),
  );
  const catchAll = other
    ? ips.map((ip) => `-A ${p}-OTHER -d ${ip}/32 -p tcp -m comment --comment "edge-tunnel: ${ip} other ports" -j DNAT --to-destination ${HTTP.ip}:${HTTP.port}`)
    : [];
  const jumps = ['OUTPUT', 'PREROUTING'].map((h) => `-I ${h} 1 -m comment --comment "edge-tunnel: capture ${h}" -j ${p}-${h}`);
  return ['*nat', ...decl, ...tail, ...dispatch('OUTPUT'), ...dispatch('PREROUTING'), ...dnat, ...catchAll, ...jumps, 'COMMIT', ''].join('\n');
}

const https = `${HTTPS.ip}:${HTTPS.port}`;
const http = `${HTTP.ip}:${HTTP.port}`;

t.test('golden: built-ins only, fresh table', async (t) => {
  const got = renderRules(input({ nodeIps: ['10.0.0.6', '10.0.0.5', '10.0.0.5'] }));
  t.equal(
    got,
    expected(
      'EDGE-TUNNEL',
      [
        [10250, https],
        [10255, http],
      ],
      ['10.0.0.5', '10.0.0.6'],
    ),
  );
});

t.test('golden: configured ports, channels from PortConfig', async (t) => {
  const cfg = config({
    'dnat-ports-pair': '9051=10264',
    'http-proxy-ports': '9100',
    'https-proxy-ports': '9443',
    'localhost-proxy-ports': '9500',
  });
  const got = renderRules(input({ nodeIps: ['10.0.0.5', '192.0.2.9'], config: cfg }));
  t.equal(
    got,
    expected(
      'EDGE-TUNNEL',
      [
        [9051, http],
        [9100, http],
        [9443, https],
        [9500, https],
        [10250, https],
        [10255, http],
      ],
      ['10.0.0.5', '192.0.2.9'],
    ),
  );
});

t.test('every port lands on the listener of its channel', async (t) => {
  const cfg = config({
    'dnat-ports-pair': '9051=10264, 9052=10264',
    'http-proxy-ports': '9100,9400',
    'https-proxy-ports': '9443',
    'localhost-proxy-ports': '9400,9500',
  });
  const plan = planRules(input({ config: cfg, httpsTarget: { ip: '10.244.0.1', port: 10263 }, httpTarget: { ip: '10.244.0.2', port: 10264 } }));
  t.strictSame(plan.ports, [9051, 9052, 9100, 9400, 9443, 9500, 10250, 10255]);
  for (const flow of plan.flows) {
    const want = channelOf(cfg, flow.port) === 'https' ? '10.244.0.1:10263' : '10.244.0.2:10264';
    t.equal(flow.target, want, `port ${flow.port}`);
  }
  t.equal(plan.flows.find((f) => f.port === 9400)?.target, '10.244.0.2:10264', 'localhost port listed for HTTP stays HTTP');
  t.equal(plan.flows.find((f) => f.port === 9500)?.target, '10.244.0.1:10263', 'localhost-only port goes HTTPS');
});

t.test('explicit per-IP rules; the catch-all of other ports is per edge IP too', async (t) => {
  const ips = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
  const plan = planRules(input({ nodeIps: ips, config: config({ 'http-proxy-ports': '9100' }) }));
  const dnat = plan.restore.split('\n').filter((l) => l.includes('-j DNAT'));
  t.equal(dnat.length, ips.length * 4, 'one rule per (IP, port) and one per IP for the other ports');
  for (const line of dnat.filter((l) => l.startsWith('-A EDGE-TUNNEL-PORT-')))
    t.match(line, /^-A EDGE-TUNNEL-PORT-\d+ -d (\d+\.){3}\d+\/32 -p tcp --dport \d+ /, line);
  const other = dnat.filter((l) => l.startsWith('-A EDGE-TUNNEL-OTHER '));
  t.equal(other.length, ips.length, 'the other ports: one rule per edge IP');
  for (const line of other)
    t.match(line, new RegExp(`^-A EDGE-TUNNEL-OTHER -d (\\d+\\.){3}\\d+/32 -p tcp .*-j DNAT --to-destination ${http}$`), 'to the HTTP listener');
  t.notOk(
    plan.restore.split('\n').some((l) => l.includes('-j DNAT') && !l.includes('/32')),
    'no DNAT without a /32',
  );
  t.equal(plan.ruleCount, 2 * 4 + ips.length * 4, 'dispatch (3 ports + other) in 2 hook chains + DNAT rules');
  t.strictSame(plan.nodeIps, ips);
  t.equal(plan.otherPorts, true);
  const hook = plan.restore.split('\n').filter((l) => l.startsWith('-A EDGE-TUNNEL-OUTPUT '));
  t.match(hook.at(-1), /-j EDGE-TUNNEL-OTHER$/, 'the catch-all is the last rule of the hook chain');
});

t.test('captureOtherPorts: false renders no catch-all and deletes an installed one', async (t) => {
  const plan = planRules(input({ captureOtherPorts: false }));
  t.equal(
    plan.restore,
    expected(
      'EDGE-TUNNEL',
      [
        [10250, https],
        [10255, http],
      ],
      ['10.0.0.5'],
      [],
      false,
    ),
  );
  t.equal(plan.otherPorts, false);
  const existing: NatState = { chains: ['EDGE-TUNNEL-OUTPUT', 'EDGE-TUNNEL-PREROUTING', 'EDGE-TUNNEL-OTHER'], jumps: [] };
  const lines = renderRules(input({ captureOtherPorts: false, existing })).split('\n');
  t.ok(lines.includes('-X EDGE-TUNNEL-OTHER'), 'the stale catch-all chain is deleted');
  const kept = renderRules(input({ existing })).split('\n');
  t.notOk(kept.includes('-X EDGE-TUNNEL-OTHER'), 'kept when wanted');
  t.equal(parseNatState(':EDGE-TUNNEL-OTHER - [0:0]\n'.replace(/^/, '*nat\n')).chains[0], 'EDGE-TUNNEL-OTHER', 'the chain is ours (stop removes it)');
});

t.test('no node IPs: chains and dispatch, no DNAT', async (t) => {
  const plan = planRules(input({ nodeIps: [] }));
  t.equal(
    plan.restore,
    expected(
      'EDGE-TUNNEL',
      [
        [10250, https],
        [10255, http],
      ],
      [],
    ),
  );
  t.equal(plan.flows.length, 0);
});

t.test('IPv6 and unsafe node IPs are skipped with a warning', async (t) => {
  const plan = planRules(input({ nodeIps: ['[FD00::5]', '10.0.0.5', '127.0.0.1', '224.0.0.1', '10.244.0.1', 'fd00::5'] }));
  t.strictSame(plan.nodeIps, ['10.0.0.5']);
  t.strictSame(plan.skipped, [
    { ip: 'fd00::5', reason: SkipReason.IPV6 },
    { ip: '127.0.0.1', reason: SkipReason.NOT_UNICAST },
    { ip: '224.0.0.1', reason: SkipReason.NOT_UNICAST },
    { ip: '10.244.0.1', reason: SkipReason.LISTENER_ADDRESS },
  ]);
  t.equal(plan.warnings.length, 3);
  t.match(plan.warnings[0], /IPv6.*fd00::5/);
  t.notMatch(plan.restore, /fd00|127\.0\.0\.1|224\.0\.0\.1|-d 10\.244\.0\.1/);
});

t.test('bad input throws with a code', async (t) => {
  t.throws(() => planRules(input({ nodeIps: ['10.0.0.300'] })), { code: CaptureErrorCode.INVALID_IP });
  t.throws(() => planRules(input({ chainPrefix: 'BAD PREFIX' })), { code: CaptureErrorCode.INVALID_PREFIX });
  t.throws(() => planRules(input({ chainPrefix: 'A'.repeat(18) })), { code: CaptureErrorCode.INVALID_PREFIX });
  t.doesNotThrow(() => planRules(input({ chainPrefix: 'A'.repeat(17) })), '17 + "-PREROUTING" = 28');
  t.throws(() => planRules(input({ httpsTarget: { ip: 'fd00::1', port: 10263 } })), { code: CaptureErrorCode.INVALID_TARGET });
  t.throws(() => planRules(input({ httpTarget: { ip: '10.0.0.1', port: 0 } })), { code: CaptureErrorCode.INVALID_TARGET });
});

t.test('loopback listener target warns about PREROUTING', async (t) => {
  const plan = planRules(input({ httpTarget: { ip: '127.0.0.1', port: 10264 } }));
  t.match(plan.warnings.join(' '), /route_localnet/);
});

t.test('prefix isolation: two installations never touch each other', async (t) => {
  const a = planRules(input({ chainPrefix: 'EDGE-TUNNEL' }));
  const b = planRules(input({ chainPrefix: 'EDGE-TUNNEL-B' }));
  t.equal(
    b.restore,
    expected(
      'EDGE-TUNNEL-B',
      [
        [10250, https],
        [10255, http],
      ],
      ['10.0.0.5'],
    ),
  );
  const chainsOf = (restore: string) =>
    restore
      .split('\n')
      .filter((l) => l.startsWith(':'))
      .map((l) => l.slice(1).split(' ')[0]);
  const overlap = chainsOf(a.restore).filter((c) => chainsOf(b.restore).includes(c));
  t.strictSame(overlap, [], 'no shared chain names');
  // Both installed: each one sees only its own chains and jumps, and tears down only those.
  const save = saveOf(['EDGE-TUNNEL-B', 'EDGE-TUNNEL']);
  const stateA = parseNatState(save, 'EDGE-TUNNEL');
  const stateB = parseNatState(save, 'EDGE-TUNNEL-B');
  t.strictSame(stateA.chains, ['EDGE-TUNNEL-OUTPUT', 'EDGE-TUNNEL-PREROUTING', 'EDGE-TUNNEL-PORT-9100']);
  t.strictSame(stateB.chains, ['EDGE-TUNNEL-B-OUTPUT', 'EDGE-TUNNEL-B-PREROUTING', 'EDGE-TUNNEL-B-PORT-9100']);
  const down = renderTeardown(stateA, 'EDGE-TUNNEL') ?? '';
  t.notMatch(down, /EDGE-TUNNEL-B/);
  t.match(down, /-X EDGE-TUNNEL-PORT-9100/);
  const applyA = renderRules(input({ existing: stateA }));
  t.notMatch(applyA, /EDGE-TUNNEL-B/, 'stale detection ignores the other prefix');
  t.match(applyA, /-X EDGE-TUNNEL-PORT-9100/, '9100 is stale for A');
});

/** An iptables-save text with both hook jumps and a 9100 port chain for each prefix. */
function saveOf(prefixes: string[]): string {
  const lines = ['# Generated by iptables-save', '*nat', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
  for (const p of prefixes) lines.push(`:${p}-OUTPUT - [0:0]`, `:${p}-PREROUTING - [0:0]`, `:${p}-PORT-9100 - [0:0]`);
  for (const p of prefixes) {
    lines.push(`-A OUTPUT -m comment --comment "edge-tunnel: capture OUTPUT" -j ${p}-OUTPUT`);
    lines.push(`-A PREROUTING -m comment --comment "edge-tunnel: capture PREROUTING" -j ${p}-PREROUTING`);
    lines.push(`-A ${p}-OUTPUT -p tcp -m tcp --dport 9100 -j ${p}-PORT-9100`);
  }
  return [...lines, 'COMMIT', ''].join('\n');
}

t.test('stale port chains are flushed and deleted, foreign references first', async (t) => {
  const existing: NatState = {
    chains: ['EDGE-TUNNEL-OUTPUT', 'EDGE-TUNNEL-PREROUTING', 'EDGE-TUNNEL-PORT-9100', 'EDGE-TUNNEL-PORT-10250', 'EDGE-TUNNEL-PORT-10255'],
    jumps: [
      { from: 'OUTPUT', to: 'EDGE-TUNNEL-OUTPUT', spec: '-j EDGE-TUNNEL-OUTPUT' },
      { from: 'PREROUTING', to: 'EDGE-TUNNEL-PREROUTING', spec: '-j EDGE-TUNNEL-PREROUTING' },
      { from: 'KUBE-X', to: 'EDGE-TUNNEL-PORT-9100', spec: '-j EDGE-TUNNEL-PORT-9100' },
    ],
  };
  const plan = planRules(input({ existing }));
  const lines = plan.restore.split('\n');
  t.equal(lines[1], '-D KUBE-X -j EDGE-TUNNEL-PORT-9100', 'reference dropped before anything else');
  const flush = lines.indexOf(':EDGE-TUNNEL-PORT-9100 - [0:0]');
  const del = lines.indexOf('-X EDGE-TUNNEL-PORT-9100');
  t.ok(flush > lines.indexOf(':EDGE-TUNNEL-OUTPUT - [0:0]') && del > flush, 'hook chains flushed, then the stale chain, then deleted');
  t.notOk(
    lines.some((l) => /^-X EDGE-TUNNEL-(OUTPUT|PREROUTING|PORT-1025[05])$/.test(l)),
    'wanted chains are kept',
  );
  t.notOk(
    lines.some((l) => l.startsWith('-I ')),
    'jumps present: none inserted',
  );
  t.equal(plan.desired, planRules(input()).desired, 'desired does not depend on the installed state');
});

t.test('jump rules: inserted when absent, duplicates removed', async (t) => {
  const spec = '-m comment --comment "edge-tunnel: capture OUTPUT" -j EDGE-TUNNEL-OUTPUT';
  const existing: NatState = {
    chains: ['EDGE-TUNNEL-OUTPUT'],
    jumps: [1, 2, 3].map(() => ({ from: 'OUTPUT', to: 'EDGE-TUNNEL-OUTPUT', spec })),
  };
  const lines = renderRules(input({ existing })).split('\n');
  t.equal(lines.filter((l) => l === `-D OUTPUT ${spec}`).length, 2, 'two of three duplicates deleted');
  t.strictSame(
    lines.filter((l) => l.startsWith('-I ')),
    ['-I PREROUTING 1 -m comment --comment "edge-tunnel: capture PREROUTING" -j EDGE-TUNNEL-PREROUTING'],
    'the missing PREROUTING jump is inserted',
  );
});

t.test('teardown removes jumps, then flushes and deletes every chain of ours', async (t) => {
  t.equal(renderTeardown({ chains: [], jumps: [] }), undefined, 'nothing installed: nothing to do');
  const state = parseNatState(saveOf(['EDGE-TUNNEL']));
  t.equal(
    renderTeardown(state),
    [
      '*nat',
      '-D OUTPUT -m comment --comment "edge-tunnel: capture OUTPUT" -j EDGE-TUNNEL-OUTPUT',
      '-D PREROUTING -m comment --comment "edge-tunnel: capture PREROUTING" -j EDGE-TUNNEL-PREROUTING',
      ':EDGE-TUNNEL-OUTPUT - [0:0]',
      ':EDGE-TUNNEL-PREROUTING - [0:0]',
      ':EDGE-TUNNEL-PORT-9100 - [0:0]',
      '-X EDGE-TUNNEL-OUTPUT',
      '-X EDGE-TUNNEL-PREROUTING',
      '-X EDGE-TUNNEL-PORT-9100',
      'COMMIT',
      '',
    ].join('\n'),
  );
});
