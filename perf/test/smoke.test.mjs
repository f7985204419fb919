// The smoke run: `bench.mjs --quick --tiny` over every chain and scenario. It asserts that the
// harness produced numbers (not speed), so it never rots.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// the seed's path chains run `reqs` only; `reqs` runs on them, the CONNECT chain and direct
const REQS_CHAINS = ['direct', 'edge-tunnel', 'edge-tunnel-http', 'edge-tunnel-https', 'edge-tunnel-https-passthrough'];
const REQS_ONLY = ['edge-tunnel-http', 'edge-tunnel-https', 'edge-tunnel-https-passthrough'];
const TRANSPORT_CHAINS = ['edge-tunnel-ws', 'edge-tunnel-proxy', 'edge-tunnel-ws-proxy'];
const bench = fileURLToPath(new URL('../bench.mjs', import.meta.url));
const built = ['apps/server', 'apps/agent', 'libs/framing', 'libs/pki'].every((p) =>
  existsSync(fileURLToPath(new URL(`../../${p}/dist/index.js`, import.meta.url))),
);

t.test('bench --quick --tiny produces numbers for every chain and scenario', { skip: built ? false : 'build apps/libs first' }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'perf-smoke-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const r = spawnSync(process.execPath, [bench, '--quick', '--tiny', '--out', out], { encoding: 'utf8', timeout: 420_000, killSignal: 'SIGTERM' });
  t.equal(r.status, 0, `exit 0\n${r.stderr.slice(-3000)}`);
  const file = readdirSync(out).find((f) => f.endsWith('.json'));
  t.ok(file, 'results JSON written');
  /** @type {import('../bench.mjs').BenchResults} */
  const res = JSON.parse(readFileSync(join(out, file), 'utf8'));
  t.match(res, { node: String, date: String, commit: String, machine: { cpus: Number } });
  const chainNames = res.chains.filter((c) => !c.only).map((c) => c.name);
  t.ok(chainNames.includes('edge-tunnel') && chainNames.includes('edge-tunnel+lz4') && chainNames.includes('tls-relay'));
  for (const [id, sc] of Object.entries(res.scenarios)) {
    const primary = sc.metrics.find((m) => m.primary).key;
    // sessions: tls-relay is the bare mTLS floor; lz4cost pairs the two edge-tunnel chains; rttpaired
    // runs edge-tunnel beside OpenSSH (when it runs), the floor and the TLS relay; a chain may run only
    // some scenarios (the floor mux)
    const rttPaired = ['edge-tunnel', 'openssh', 'floor', 'tls-relay'].filter((n) => chainNames.includes(n));
    // transports: the TLS session beside the WebSocket one, and both through tinyproxy (when installed)
    const transports = ['edge-tunnel', ...TRANSPORT_CHAINS].filter((n) => chainNames.includes(n));
    const names =
      {
        sessions: ['edge-tunnel', 'tls-relay'],
        lz4cost: ['edge-tunnel+lz4', 'edge-tunnel'],
        rttpaired: rttPaired,
        reqs: REQS_CHAINS,
        scrape: ['edge-tunnel'],
        transports,
        reconnect: process.getuid?.() === 0 ? ['edge-tunnel'] : [],
      }[id] ?? res.chains.filter((c) => !c.only && (c.scenarios?.includes(id) ?? true) && !REQS_ONLY.includes(c.name)).map((c) => c.name);
    for (const name of names) {
      const row = sc.rows[name];
      t.ok(row && !row.error, `${id} · ${name}: ran${row?.error ? ` (${row.error.split('\n')[0]})` : ''}`);
      if (!row || row.error) continue;
      const key = id === 'idle' ? 'streams' : primary; // heap is unknown for direct and OpenSSH
      t.ok(Number.isFinite(row[key]), `${id} · ${name}: ${key} is a number (${row[key]})`);
    }
    t.ok(existsSync(join(out, `${id}-tiny.svg`)), `${id}: chart written`);
  }
  t.ok(res.targets.length >= 15, 'targets evaluated');
  t.ok(chainNames.includes('edge-tunnel-ws'), 'the WebSocket chain ran');
  const ws = res.scenarios.transports?.rows['edge-tunnel-ws'];
  t.ok(Number.isFinite(ws?.bulkRatio) && Number.isFinite(ws?.rttRatio) && ws?.ref === 'edge-tunnel', 'transports: WebSocket ÷ TLS per round, paired');
  for (const name of ['edge-tunnel-ws ÷ edge-tunnel: 1 stream MB/s (paired)', 'edge-tunnel-ws ÷ edge-tunnel: RTT p50 (paired)']) {
    t.ok(Number.isFinite(res.targets.find((x) => x.name === name)?.value), `${name}: a verdict`);
  }
  t.ok(chainNames.includes('floor'), 'the floor mux ran');
  for (const name of ['churn streams/s', 'RTT p50 ÷ OpenSSH', 'heap per idle stream, worst process (B)']) {
    const target = res.targets.find((x) => x.name.startsWith(name));
    t.ok(Number.isFinite(target?.floor) && typeof target.reachable === 'boolean', `${name}: the floor's value and verdict (${target?.floor})`);
  }
  const paired = res.scenarios.lz4cost?.rows['edge-tunnel+lz4'];
  t.ok(Number.isFinite(paired?.ratio) && paired.ratios.length === 2, `lz4cost: a median of ${paired?.ratios?.length} per-round ratios (${paired?.ratio})`);
  t.ok(
    res.targets.some((x) => x.name.endsWith('loss (paired phases)') && Number.isFinite(x.value)),
    'the compression-loss target uses the paired phases',
  );
  const rtt = res.scenarios.rttpaired?.rows;
  t.ok(rtt?.['edge-tunnel']?.perRound?.length === 2, `rttpaired: a p50 per round (${rtt?.['edge-tunnel']?.perRound})`);
  if (chainNames.includes('openssh')) {
    t.ok(Number.isFinite(rtt?.['edge-tunnel']?.ratio) && Number.isFinite(rtt?.floor?.ratio), "rttpaired: per-round ratios to OpenSSH, the floor's too");
    t.ok(
      res.targets.some((x) => x.name === 'RTT p50 ÷ OpenSSH (paired rounds)' && x.value === rtt['edge-tunnel'].ratio),
      'the RTT target uses the paired rounds',
    );
  }
  t.match(r.stdout, /edge-tunnel ÷ peer/, 'ratio tables printed');
  // reqs: every case of every chain answered, with a p50 and the CPU of each tunnel process
  const cases = {
    direct: ['http', 'https'],
    'edge-tunnel': ['http', 'https'],
    'edge-tunnel-http': ['http'],
    'edge-tunnel-https': ['https'],
    'edge-tunnel-https-passthrough': ['https'],
  };
  for (const [name, kinds] of Object.entries(cases)) {
    /** @type {import('../lib/reqs.mjs').ReqsCase[]} */
    const got = res.scenarios.reqs?.rows[name]?.cases ?? [];
    t.same(
      got.map((c) => `${c.kind} ${c.size}`),
      kinds.flatMap((k) => [`${k} small`, `${k} 100KiB`]),
      `reqs · ${name}: its cases`,
    );
    for (const c of got)
      t.ok(c.requests > 0 && c.errors === 0 && Number.isFinite(c.p50), `reqs · ${name} · ${c.kind} ${c.size}: ${c.requests} requests, p50 ${c.p50}`);
  }
  t.ok(Number.isFinite(res.scenarios.reqs?.rows['edge-tunnel-https']?.cases[0]?.cpuPer1000.server), 'reqs: server CPU per 1 000 requests');
  for (const name of ['reqs small: :10264 req/s ÷ CONNECT chain', 'reqs small: :10263 p50 ÷ CONNECT chain']) {
    const target = res.targets.find((x) => x.name === name);
    t.ok(Number.isFinite(target?.value) && typeof target.met === 'boolean', `${name}: a ratio and a verdict (${target?.value})`);
  }
  t.match(r.stdout, /edge-tunnel-https · https small \|/, 'reqs: one row per chain and case');
  const scrape = res.scenarios.scrape?.rows['edge-tunnel'];
  t.ok(
    scrape?.nodes === 4 && scrape.steps.length >= 1 && scrape.steps[0].achieved > 0 && Number.isFinite(scrape.steps[0].p99),
    `scrape: ${scrape?.nodes} nodes scraped (${scrape?.steps?.[0]?.achieved}/s)`,
  );
  t.ok(
    res.targets.some((x) => x.name.startsWith('scrape: highest rate') && Number.isFinite(x.value)),
    'scrape: a verdict',
  );
});
