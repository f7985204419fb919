// Reconnect storm with a small swarm: perf/fuzz/reconnect-storm.mjs SIGKILLs the real server under
// 100 in-process agents (the agent's own Backoff: redials spread over --reconnect-spread-ms after a
// lost session) and restarts it; all must come back within the spread window, and the dials and
// reconnects must not pile into one 100 ms bucket. With the spread off (--reconnect-spread-ms 0, the
// old schedule: every first retry within --backoff-base-ms of the kill) 28–56 % of the agents dialed
// in one 100 ms bucket, so the dial bound fails (perf/README.md, "Reconnect storm").
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../../perf/fuzz/reconnect-storm.mjs', import.meta.url));
const N = 100;
/** extra time past the spread window for the restart and the last handshakes on a loaded machine */
const SLACK_MS = 4000;
/**
 * At most this share of the agents in one 100 ms bucket. A uniform spread over 8 s puts ~1.3 % there;
 * measured up to 14 % when this machine stalled the emulator (every agent shares one event loop).
 */
const MAX_SHARE = 0.2;

t.test(`server SIGKILL under ${N} agents: all back within the spread window, no reconnect storm`, async (t) => {
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [SCRIPT, '--agents', String(N), '--json'], { timeout: 150_000 }, (err, stdout, stderr) =>
      err && !stdout ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, any>;
  t.comment(JSON.stringify(r));
  t.equal(r['back'], N, 'every agent reconnected');
  t.equal(r['serverTunnels'], N, 'the restarted server lists every session');
  const bound = r['spreadMs'] + SLACK_MS;
  t.ok(
    r['allBackMs'] < bound,
    `all back ${r['allBackMs']} ms after the kill < spread ${r['spreadMs']} + ${SLACK_MS} ms (server ready after ${r['serverReadyMs']} ms)`,
  );
  t.ok(r['dialsPer100ms'].max <= MAX_SHARE * N, `dials per 100 ms: max ${r['dialsPer100ms'].max} ≤ ${MAX_SHARE * N} of ${N} agents`);
  // 100 agents over 80 buckets are ~1 per bucket, so "max ≤ 3 × mean" is Poisson noise at this size:
  // the share of N is asserted here, the ratio is measured with 1 000 agents (perf/README.md)
  const { max, mean } = r['reconnectsPer100ms'];
  t.ok(max <= MAX_SHARE * N, `reconnects per 100 ms: max ${max} ≤ ${MAX_SHARE * N} of ${N} agents (mean ${mean.toFixed(1)})`);
});
