// The targets, evaluated on one run's numbers (ratios within the run).
const ET = 'edge-tunnel';
const ETZ = 'edge-tunnel+lz4';

export function evaluateTargets(res) {
  const s = res.scenarios;
  const v = (sc, chain, key) => s[sc]?.rows?.[chain]?.[key];
  const out = [];
  const add = (name, value, goal, met) => out.push({ name, value, goal, met: Number.isFinite(value) ? met : undefined });
  for (const sc of ['bulk1', 'multi16', 'multi256']) {
    const et = v(sc, ET, 'mbps');
    const best = Math.max(...['tls-relay', 'openssh'].map((c) => v(sc, c, 'mbps')).filter(Number.isFinite));
    add(`${sc}: ÷ best of {TLS relay, OpenSSH}`, et / best, '≥ 1.0', et / best >= 1.0);
    add(`${sc}: ÷ Node HTTP/2`, et / v(sc, 'h2', 'mbps'), '≥ 1.5', et / v(sc, 'h2', 'mbps') >= 1.5);
    add(`${sc}: ÷ JS yamux`, et / v(sc, 'yamux', 'mbps'), '≥ 2', et / v(sc, 'yamux', 'mbps') >= 2);
  }
  const p50 = v('rtt', ET, 'idleP50') / v('rtt', 'openssh', 'idleP50');
  add('RTT p50 ÷ OpenSSH', p50, '≤ 1.0', p50 <= 1.0);
  add('saturating neighbour: added p99 (ms)', v('rtt', ET, 'addedP99'), '≤ 2', v('rtt', ET, 'addedP99') <= 2);
  add('stalled stream: cost to the other (%)', v('stalled', ET, 'cost'), '< 5', v('stalled', ET, 'cost') < 5);
  add('churn streams/s', v('churn', ET, 'perSec'), '≥ 5000', v('churn', ET, 'perSec') >= 5000);
  add('churn heap after/before', v('churn', ET, 'heapRatio'), '≤ 1.05', v('churn', ET, 'heapRatio') <= 1.05);
  add('churn fds after−before', v('churn', ET, 'fdDelta'), '≤ 0', v('churn', ET, 'fdDelta') <= 0);
  add('heap per idle stream, worst process (B)', v('idle', ET, 'maxHeapPerStream'), '≤ 2048', v('idle', ET, 'maxHeapPerStream') <= 2048);
  const sess = s.sessions?.rows?.[ET]?.rssPerSession;
  add('RSS per idle agent session (B)', sess, '≤ 65536', sess <= 65536);
  const z = v('compress', ETZ, 'mbps') / v('compress', ET, 'mbps');
  add('compressed ÷ uncompressed log goodput, 100 Mbit/s', z, '≥ 2.5', z >= 2.5);
  const loss = 1 - v('bulk1', ETZ, 'mbps') / v('bulk1', ET, 'mbps');
  add('compression on random bytes, loopback: loss', loss * 100, '≤ 5 %', loss <= 0.05);
  const lat = v('latency', ET, 'at2s') / v('latency', 'tls-relay', 'steady');
  add('50 ms link: MB/s in 1–2 s ÷ TLS relay steady', lat, '≥ 0.85', lat >= 0.85);
  return out;
}
