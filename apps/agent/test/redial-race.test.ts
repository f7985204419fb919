// The redial race (redial-race.ts) with an injected dialer of fake attempts: dials overlap at the
// jittered 250–500 ms cadence; at most 4 live, the oldest without TCP aborted for a 5th (one with TCP
// up is kept); the first TLS handshake wins and every loser is destroyed at once; a failed dial does
// not end the race; nothing (attempt, timer) is left after a win, a stop (the grace) or the
// dialer's close; resumeSession ends its race on the grace and on close.
import t from 'tap';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { resume, type Session } from '@edge-tunnel/framing';
import type { AgentMetrics } from '../src/metrics.js';
import { RedialRace, REDIAL_MAX_LIVE, type RedialAttempt } from '../src/redial-race.js';
import { resumeSession } from '../src/resume.js';

class FakeSocket {
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
  }
}

class Fake implements RedialAttempt {
  tcpUp = false;
  aborted = false;
  settled = false;
  readonly startedAt = Date.now();
  readonly done: Promise<TLSSocket | undefined>;
  /** a handshake that completes in the same turn as the abort: ignores it */
  ignoreAbort = false;
  private resolve!: (s: TLSSocket | undefined) => void;
  constructor(readonly n: number) {
    this.done = new Promise((r) => (this.resolve = r));
  }
  abort(): void {
    this.aborted = true;
    if (!this.ignoreAbort) this.settle(undefined);
  }
  succeed(): FakeSocket {
    const socket = new FakeSocket();
    this.settle(socket as unknown as TLSSocket);
    return socket;
  }
  fail(): void {
    this.settle(undefined);
  }
  private settle(s: TLSSocket | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(s);
  }
}

/** Fake dialer: every attempt it started; `onStart(fake, all)` runs as each one starts. */
function fakeDialer(onStart: (f: Fake, all: Fake[]) => void = () => {}) {
  const all: Fake[] = [];
  return {
    all,
    start: (): Fake => {
      const f = new Fake(all.length + 1);
      all.push(f);
      onStart(f, all);
      return f;
    },
    /** attempts neither settled nor aborted: live handles */
    live: () => all.filter((f) => !f.settled).length,
  };
}

const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const until = async (what: string, cond: () => boolean, ms = 5_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
};

t.test('dials overlap at the jittered cadence: a new one every 250–500 ms without waiting for the last', async (t) => {
  const d = fakeDialer();
  const jitter = [0, 0.999, 0.5];
  let i = 0;
  const race = new RedialRace({ start: d.start, random: () => jitter[i++ % jitter.length]! });
  const won = race.run();
  await until('4 dials', () => d.all.length === 4);
  const gaps = d.all.slice(1).map((f, k) => f.startedAt - d.all[k]!.startedAt);
  const expected = [250, 499, 375];
  gaps.forEach((gap, k) => t.ok(gap >= expected[k]! - 5 && gap < expected[k]! + 400, `gap ${k + 1}: ${gap} ms (jitter ${jitter[k]} → ${expected[k]} ms)`));
  t.ok(
    d.all.every((f) => !f.settled),
    'none of them finished: the dials overlapped',
  );
  race.stop();
  t.equal(await won, undefined, 'stopped: no winner');
});

t.test(`at most ${REDIAL_MAX_LIVE} live: the oldest without TCP is aborted for the next, one with TCP up is kept`, async (t) => {
  const seen: string[] = [];
  const d = fakeDialer((f, all) => {
    const aborted = all.filter((a) => a.aborted).map((a) => a.n);
    seen.push(`start ${f.n}, aborted [${aborted.join(',')}]`);
    if (f.n === 4) all[1]!.tcpUp = true; // #2: TCP up, TLS pending
  });
  const race = new RedialRace({ start: d.start, minMs: 20, maxMs: 20 });
  const won = race.run();
  await until('6 dials', () => d.all.length === 6);
  t.same(
    seen,
    ['start 1, aborted []', 'start 2, aborted []', 'start 3, aborted []', 'start 4, aborted []', 'start 5, aborted [1]', 'start 6, aborted [1,3]'],
    'the 5th aborts #1; the 6th aborts #3, the oldest without TCP, and keeps #2 (TCP up)',
  );
  t.equal(race.liveCount, REDIAL_MAX_LIVE, `${REDIAL_MAX_LIVE} live`);
  t.equal(d.live(), REDIAL_MAX_LIVE, 'and the aborted ones are gone');
  for (const f of d.all) f.tcpUp = true;
  await sleep(150);
  t.equal(d.all.length, 6, 'all four with TCP up, TLS pending: none aborted, no 5th started');
  t.equal(d.live(), REDIAL_MAX_LIVE);
  d.all[1]!.fail();
  await until('a dial in the freed place', () => d.all.length === 7);
  t.equal(d.all.filter((f) => f.aborted).length, 2, 'a failure frees a place: no abort needed');
  race.stop();
  await won;
});

t.test('the first TLS handshake wins; the losers are destroyed at once; nothing left', async (t) => {
  const baseline = timeouts();
  const d = fakeDialer();
  const race = new RedialRace({ start: d.start, minMs: 20, maxMs: 20 });
  const won = race.run();
  await until('3 dials', () => d.all.length === 3);
  d.all[2]!.ignoreAbort = true; // its handshake finishes in the same turn the race decides
  const socket = d.all[1]!.succeed();
  t.equal(await won, socket as unknown as TLSSocket, '#2 won');
  t.notOk(socket.destroyed, 'the winner is not destroyed');
  t.ok(d.all[0]!.aborted && d.all[2]!.aborted, 'the losers were aborted');
  const late = d.all[2]!.succeed();
  await sleep(0);
  t.ok(late.destroyed, 'a loser whose handshake finished anyway is destroyed');
  t.equal(d.live(), 0, 'no live attempt');
  t.equal(race.liveCount, 0);
  t.notOk(race.armed, 'no dial timer');
  t.equal(timeouts(), baseline, 'no timer left');
  await sleep(60);
  t.equal(d.all.length, 3, 'no dial after the win');
});

t.test('failed dials do not end the race', async (t) => {
  let failures = 0;
  const d = fakeDialer((f) => void queueMicrotask(() => (f.n < 3 ? f.fail() : undefined)));
  const race = new RedialRace({ start: d.start, minMs: 20, maxMs: 20, onFailure: () => (failures += 1) });
  const won = race.run();
  await until('3 dials', () => d.all.length === 3);
  t.equal(failures, 2, 'two failures counted');
  const socket = d.all[2]!.succeed();
  t.equal(await won, socket as unknown as TLSSocket, 'the third won');
});

t.test("stop() (the grace) and the dialer's close (signal) leave nothing behind", async (t) => {
  for (const how of ['stop', 'signal'] as const) {
    const baseline = timeouts();
    const d = fakeDialer();
    const ac = new AbortController();
    const race = new RedialRace({ start: d.start, signal: ac.signal, minMs: 20, maxMs: 20 });
    const won = race.run();
    await until('3 dials', () => d.all.length === 3);
    d.all[0]!.tcpUp = true;
    if (how === 'stop') race.stop();
    else ac.abort();
    t.equal(await won, undefined, `${how}: no winner`);
    t.ok(
      d.all.every((f) => f.aborted),
      `${how}: every attempt aborted (also the one with TCP up)`,
    );
    t.equal(d.live(), 0, `${how}: no live attempt`);
    t.equal(timeouts(), baseline, `${how}: no timer left`);
  }
  const ac = new AbortController();
  ac.abort();
  const d = fakeDialer();
  t.equal(await new RedialRace({ start: d.start, signal: ac.signal }).run(), undefined, 'a closed dialer: no race');
  t.equal(d.all.length, 0, 'and no dial');
});

/** resumeSession over fake attempts that never finish. */
function pausedSession(graceMs: number, signal?: AbortSignal) {
  const link = new resume.ResumableLink();
  link.on('error', () => {});
  const lines: Array<Record<string, unknown>> = [];
  const log = { warn: (o: object, msg: string) => lines.push({ ...o, msg }), info: (o: object, msg: string) => lines.push({ ...o, msg }) } as unknown as Logger;
  const results: string[] = [];
  const metrics = { resumes: { inc: (l: { result: string }) => results.push(l.result) } } as unknown as AgentMetrics;
  const d = fakeDialer();
  const done = resumeSession({
    dialer: { startRedial: d.start, isClosing: false, ...(signal ? { closingSignal: signal } : {}) },
    session: { peerGoingAway: false, streams: new Map() } as unknown as Session,
    link,
    credentials: { sessionId: Buffer.alloc(16), secret: Buffer.alloc(32), graceMs },
    reason: 'no bytes on the connection for 3000 ms',
    log,
    metrics,
    serverAddr: '10.0.0.1:10262',
    timeoutMs: 3_000,
    random: () => 0,
  });
  return { link, lines, results, d, done };
}

t.test('resumeSession: the grace ends the race; every dial counted as attempted; nothing left', async (t) => {
  const baseline = timeouts();
  const s = pausedSession(900);
  await s.done;
  t.ok(s.link.destroyed, 'the link ended at the grace');
  t.match(
    s.lines.find((l) => l.msg === 'session not resumed: its streams end'),
    { reason: /grace of 900 ms/ },
  );
  t.ok(s.d.all.length >= 3 && s.d.all.length <= 4, `dials overlapped within the grace (${s.d.all.length} at 250 ms)`);
  t.equal(s.results.filter((r) => r === 'attempted').length, s.d.all.length, 'resumes{result=attempted} counts the dials');
  t.equal(s.results.at(-1), 'failed');
  t.equal(s.d.live(), 0, 'every dial aborted');
  t.equal(timeouts(), baseline, 'no timer left (race, grace)');
});

t.test("resumeSession: the dialer's close ends the race at once; nothing left", async (t) => {
  const baseline = timeouts();
  const ac = new AbortController();
  const s = pausedSession(60_000, ac.signal);
  await until('2 dials', () => s.d.all.length === 2);
  const closedAt = Date.now();
  ac.abort();
  await s.done;
  t.ok(Date.now() - closedAt < 100, 'resumeSession returned at once');
  t.equal(s.d.live(), 0, 'every dial aborted');
  t.equal(timeouts(), baseline, 'no timer left (race, grace)');
  s.link.destroy();
});
