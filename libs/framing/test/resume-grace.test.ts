// The grace measures the outage (spec §10.4, "Grace"): it counts from the last byte the link
// received from its peer, not from the verdict that noticed the loss. A silent link (nothing
// arrives either way, as behind a blackhole) is noticed by the link keepalive a keepalive timeout
// after its last byte, and is given up `graceMs` after that byte, not `graceMs` after the verdict;
// a verdict that leaves less than min(grace, RESUME_WINDOW_MS) still leaves that much for a resume.
// And the session's own keepalive (sessionKeepaliveTimeoutMs) never comes before the grace's end.
import t, { type Test } from 'tap';
import type { Duplex } from 'node:stream';
import { Stream } from '../src/stream.js';
import type { ResumableLink } from '../src/resume/link.js';
import { RESUME_WINDOW_MS, graceLeftMs, sessionKeepaliveTimeoutMs } from '../src/resume/link-options.js';
import { resumeRig } from './fixtures/resume-rig.js';
import { until, within } from './fixtures/streams.js';

const socketOf = (l: ResumableLink): Duplex => (l as unknown as { socket: Duplex }).socket;

/** A rig with one accepted stream whose connection then goes silent both ways (no close, no error). */
async function silentRig(t: Test, graceMs: number, keepaliveTimeoutMs: number) {
  const session = { keepaliveIntervalMs: 50, keepaliveTimeoutMs: sessionKeepaliveTimeoutMs(keepaliveTimeoutMs, graceMs) };
  const rig = await resumeRig({ graceMs, keepaliveIntervalMs: 50, keepaliveTimeoutMs, session });
  t.teardown(() => rig.close());
  const accepted = new Promise<Stream>((resolve) => rig.server.once('stream', (s: Stream) => (s.accept(), resolve(s))));
  rig.client.open({ host: 'h', port: 1 }).on('error', () => {});
  const down = await accepted;
  const err = new Promise<Error>((r) => down.once('error', r));
  socketOf(rig.clientLink).pause();
  socketOf(rig.serverLink).pause();
  return { rig, err, silencedAt: Date.now() };
}

t.test('graceLeftMs: the grace less the silence, at least min(grace, RESUME_WINDOW_MS)', async (t) => {
  t.equal(RESUME_WINDOW_MS, 2_000);
  t.equal(graceLeftMs(60_000, 5), 59_995, 'a reset right after the last byte: (nearly) all of the grace');
  t.equal(graceLeftMs(60_000, 30_000), 30_000, "the defaults' keepalive verdict: half of it is gone");
  t.equal(graceLeftMs(60_000, 59_000), 2_000, 'a late verdict: the window');
  t.equal(graceLeftMs(20_000, 30_000), 2_000, 'a grace below the keepalive timeout: the window after the verdict');
  t.equal(graceLeftMs(500, 1_000), 500, 'a grace below the window: the grace itself after the verdict');
  t.equal(graceLeftMs(60_000, -5), 60_000, 'a clock step back counts as no silence');
});

t.test("sessionKeepaliveTimeoutMs: one spare keepalive timeout after the link's verdict and the grace", async (t) => {
  // with kt + grace alone the session's verdict and the grace's end raced when the grace counted from the verdict
  t.equal(sessionKeepaliveTimeoutMs(300, 400), 2 * 300 + 400);
  t.equal(sessionKeepaliveTimeoutMs(30_000, 3_600_000), 3_600_000, 'capped at an hour');
});

t.test('a silent link is given up the grace after its last byte, not the grace after the keepalive verdict', async (t) => {
  // kt 1000 ms: the verdict comes ~1000 ms after the last byte; grace 3000 ms counted from the verdict
  // (the old start) would end the stream ~4000 ms after the silence began
  const [graceMs, kt] = [3_000, 1_000];
  const { rig, err, silencedAt } = await silentRig(t, graceMs, kt);
  await until(() => rig.serverLink.paused, 5_000, 'the server link paused by its keepalive');
  const pausedMs = Date.now() - silencedAt;
  t.ok(pausedMs >= kt - 100, `the verdict came ${pausedMs} ms after the silence began (keepalive timeout ${kt} ms)`);
  const e = await within(err, 10_000, 'stream error');
  const endedMs = Date.now() - silencedAt;
  t.ok(
    endedMs >= graceMs - 200 && endedMs < graceMs + kt / 2,
    `the stream ended ${endedMs} ms after the silence began (grace ${graceMs} ms; from the verdict: ≥ ${graceMs + kt})`,
  );
  t.match(
    e.message,
    new RegExp(`no resume within the grace of ${graceMs} ms after the connection was lost: nothing from the agent for (\\d+) ms \\(no bytes on the connection`),
  );
  const silentMs = Number(/nothing from the agent for (\d+) ms/.exec(e.message)?.[1]);
  t.ok(silentMs >= graceMs && silentMs < graceMs + kt / 2, `the reason says how long the link was silent: ${silentMs} ms`);
  t.equal(rig.table.counters.expired, 1, 'the grace ended it, not the session keepalive');
});

t.test('a verdict past the grace still leaves a short window: a resume right after it succeeds', async (t) => {
  // grace 400 ms < keepalive timeout 1000 ms: the grace is spent at the verdict; min(grace, window) is left
  const [graceMs, kt] = [400, 1_000];
  const { rig } = await silentRig(t, graceMs, kt);
  await until(() => rig.clientLink.paused && rig.serverLink.paused, 5_000, 'both links paused by their keepalive');
  t.ok(rig.serverLink.silentMs >= graceMs, `the server link had been silent ${rig.serverLink.silentMs} ms at the verdict, past the grace`);
  await rig.resume();
  t.notOk(rig.serverLink.paused, 'resumed within the window');
  t.equal(rig.table.counters.expired, 0, 'nothing expired');
});

t.test('a reset keeps the whole grace; the silence restarts with each resume', async (t) => {
  const graceMs = 2_500;
  const rig = await resumeRig({ graceMs, keepaliveIntervalMs: 50, keepaliveTimeoutMs: 1_000 });
  t.teardown(() => rig.close());
  rig.cut();
  await until(() => rig.serverLink.paused, 5_000, 'the server link paused by the reset');
  t.ok(rig.serverLink.silentMs < 200, `silent ${rig.serverLink.silentMs} ms at the reset`);
  await new Promise((r) => setTimeout(r, 1_500));
  await rig.resume();
  t.ok(rig.serverLink.silentMs < 200, `a resume is a byte from the agent: silent ${rig.serverLink.silentMs} ms`);
  rig.cut();
  await until(() => rig.serverLink.paused, 5_000, 'paused again');
  // 1500 ms after the first loss: a grace counted from the first loss would be over at 2500 ms
  await new Promise((r) => setTimeout(r, 1_500));
  await rig.resume();
  t.equal(rig.table.counters.expired, 0, 'each loss had its own grace');
});
