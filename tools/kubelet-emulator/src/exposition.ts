/** Prometheus text exposition format 0.0.4. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge';

export interface Sample {
  labels?: Record<string, string>;
  value: number;
  /** milliseconds since the epoch, written after the value (the kubelet stamps `/metrics/resource` samples) */
  timestampMs?: number;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  return String(value);
}

/** One metric family: HELP, TYPE and its samples. */
export function family(name: string, type: MetricType, help: string, samples: Sample[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const s of samples) {
    const labels = Object.entries(s.labels ?? {});
    const rendered = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
    const stamp = s.timestampMs === undefined ? '' : ` ${Math.round(s.timestampMs)}`;
    lines.push(`${name}${rendered} ${formatValue(s.value)}${stamp}`);
  }
  return `${lines.join('\n')}\n`;
}
