import t from 'tap';
import { httpsGet, startTestKubelet } from './fixtures/kubelet.js';

// GET /metrics/resource, read the way metrics-server's decoder reads it: every sample line is
// `name{labels} value [timestamp]`, the node and container CPU and working set carry a timestamp,
// container series carry exactly container/namespace/pod, and the scrape-error gauge says 0.

interface Parsed {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs?: number;
}

function parse(text: string): { samples: Parsed[]; types: Map<string, string>; helps: Set<string> } {
  const samples: Parsed[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') types.set(meta[2]!, meta[3]!);
      else helps.add(meta[2]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (\d+))?$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]), ...(m[4] ? { timestampMs: Number(m[4]) } : {}) });
  }
  return { samples, types, helps };
}

const of = (samples: Parsed[], name: string): Parsed[] => samples.filter((s) => s.name === name);

t.test('/metrics/resource serves what metrics-server v0.6+ scrapes', async (t) => {
  const pods = [
    { name: 'a', containers: ['x'] },
    { namespace: 'kube-system', name: 'b', containers: ['y', 'z'] },
  ];
  const kubelet = await startTestKubelet(t, { pods });
  const before = Date.now();
  const res = await httpsGet(kubelet, '/metrics/resource');
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const { samples, types, helps } = parse(res.body);

  const expected = {
    container_cpu_usage_seconds_total: 'counter',
    container_memory_working_set_bytes: 'gauge',
    container_start_time_seconds: 'gauge',
    node_cpu_usage_seconds_total: 'counter',
    node_memory_working_set_bytes: 'gauge',
    pod_cpu_usage_seconds_total: 'counter',
    pod_memory_working_set_bytes: 'gauge',
    resource_scrape_error: 'gauge',
    scrape_error: 'gauge',
  };
  t.same(Object.fromEntries(types), expected, 'the kubelet resource collector families, in its (sorted) order');
  t.same([...types.keys()], Object.keys(expected).sort(), 'sorted by name');
  t.equal(helps.size, types.size, 'every family has a HELP line');

  const [cpu] = of(samples, 'node_cpu_usage_seconds_total');
  const [mem] = of(samples, 'node_memory_working_set_bytes');
  t.ok(cpu && cpu.value > 0 && mem && mem.value > 0, `node cpu ${cpu?.value} s, working set ${mem?.value} B`);
  for (const s of [cpu, mem]) t.ok(s!.timestampMs! >= before - 1000 && s!.timestampMs! <= Date.now(), `${s!.name} is stamped with the scrape time`);

  const cpus = of(samples, 'container_cpu_usage_seconds_total');
  t.same(
    cpus.map((s) => s.labels),
    [
      { container: 'x', namespace: 'default', pod: 'a' },
      { container: 'y', namespace: 'kube-system', pod: 'b' },
      { container: 'z', namespace: 'kube-system', pod: 'b' },
    ],
    'one series per container, labelled container/namespace/pod only',
  );
  t.ok(
    cpus.every((s) => Number.isFinite(s.value) && s.timestampMs !== undefined),
    'container cpu values are numbers with timestamps',
  );
  const mems = of(samples, 'container_memory_working_set_bytes');
  t.equal(mems.length, 3);
  t.ok(mems.every((s) => s.value > 0 && s.timestampMs !== undefined));
  t.ok(
    of(samples, 'container_start_time_seconds').every((s) => s.value > 1e9 && s.value * 1000 <= Date.now()),
    'start times in seconds since the epoch',
  );

  const podMem = of(samples, 'pod_memory_working_set_bytes').find((s) => s.labels['pod'] === 'b');
  t.same(podMem?.labels, { namespace: 'kube-system', pod: 'b' });
  t.equal(podMem?.value, mems[1]!.value + mems[2]!.value, 'a pod is the sum of its containers');
  t.same(
    of(samples, 'resource_scrape_error').map((s) => s.value),
    [0],
  );
  t.same(
    of(samples, 'scrape_error').map((s) => s.value),
    [0],
  );

  await new Promise((r) => setTimeout(r, 20));
  const again = parse((await httpsGet(kubelet, '/metrics/resource')).body).samples;
  const later = of(again, 'container_cpu_usage_seconds_total')[2]!;
  t.ok(later.value > cpus[2]!.value, `a container's cpu counter grows between scrapes (${cpus[2]!.value} → ${later.value})`);
  t.ok(later.timestampMs! > cpus[2]!.timestampMs!, 'and so does its timestamp');
});
