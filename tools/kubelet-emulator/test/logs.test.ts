import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { KubeletHandle } from '../src/index.js';
import { LogCursor, LogStore } from '../src/log-files.js';
import { encodeEntry, formatEntry, parseEntry, parseLogQuery, selectInitial } from '../src/log-format.js';
import type { LogQuery } from '../src/log-format.js';
import { PodStore } from '../src/pods.js';
import { clientTls, httpsGet, startTestKubelet, waitFor } from './fixtures/kubelet.js';

// log-format.ts and log-files.ts units first, then the /containerLogs endpoint (logs.ts).

const query = (q: Partial<LogQuery>): LogQuery => ({
  follow: false,
  timestamps: false,
  tailLines: undefined,
  sinceSeconds: undefined,
  limitBytes: undefined,
  ...q,
});

t.test('CRI lines round-trip', async (t) => {
  const time = new Date('2024-05-01T10:00:00.123Z');
  for (const content of ['hello', '', 'with spaces  and stdout F inside', 'ünïcødé']) {
    const line = encodeEntry(time, 'stderr', content);
    t.ok(line.endsWith('\n'));
    t.same(parseEntry(line.slice(0, -1)), { time: '2024-05-01T10:00:00.123Z', stream: 'stderr', partial: false, content });
  }
  t.same(parseEntry('2024-05-01T10:00:00Z stdout P part'), { time: '2024-05-01T10:00:00Z', stream: 'stdout', partial: true, content: 'part' });
  t.same(parseEntry('not cri'), { time: '', stream: 'stdout', partial: false, content: 'not cri' });
  t.equal(formatEntry(parseEntry('2024-05-01T10:00:00Z stdout P part'), false), 'part');
  t.equal(formatEntry(parseEntry('2024-05-01T10:00:00Z stdout F x'), true), '2024-05-01T10:00:00Z x\n');
});

t.test('selectInitial applies sinceSeconds and tailLines', async (t) => {
  const now = Date.parse('2024-05-01T10:00:00Z');
  const at = (s: number, c: string): string => encodeEntry(new Date(now - s * 1000), 'stdout', c).slice(0, -1);
  const entries = [at(100, 'old'), at(50, 'mid'), at(5, 'new1'), at(1, 'new2')].map(parseEntry);
  const contents = (q: Partial<LogQuery>): string[] => selectInitial(entries, query(q), now).map((e) => e.content);
  t.same(contents({}), ['old', 'mid', 'new1', 'new2']);
  t.same(contents({ tailLines: 3 }), ['mid', 'new1', 'new2']);
  t.same(contents({ tailLines: 0 }), []);
  t.same(contents({ tailLines: 10 }), ['old', 'mid', 'new1', 'new2']);
  t.same(contents({ sinceSeconds: 60 }), ['mid', 'new1', 'new2']);
  t.same(contents({ sinceSeconds: 10, tailLines: 1 }), ['new2']);
});

t.test('parseLogQuery', async (t) => {
  t.same(
    parseLogQuery(new URLSearchParams('follow=true&tailLines=5&timestamps=true&limitBytes=10&sinceSeconds=3')),
    query({ follow: true, timestamps: true, tailLines: 5, limitBytes: 10, sinceSeconds: 3 }),
  );
  t.same(parseLogQuery(new URLSearchParams('follow=1&tailLines=')), query({}));
  for (const bad of ['tailLines=-1', 'tailLines=x', 'sinceSeconds=0', 'limitBytes=1.5']) {
    t.type(parseLogQuery(new URLSearchParams(bad)), 'string', bad);
  }
});

t.test('LogCursor returns only complete new lines, split anywhere', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kubelet-emulator-cursor-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, '0.log');
  const cursor = new LogCursor(path);
  t.same(cursor.read(), [], 'missing file reads as empty');
  const text = '2024-01-01T00:00:00Z stdout F héllo\n2024-01-01T00:00:01Z stdout F world\n';
  const bytes = Buffer.from(text);
  for (let split = 0; split <= bytes.length; split++) {
    writeFileSync(path, '');
    const c = new LogCursor(path);
    appendFileSync(path, bytes.subarray(0, split));
    const first = c.read();
    appendFileSync(path, bytes.subarray(split));
    const all = [...first, ...c.read()].map((e) => e.content);
    if (JSON.stringify(all) !== '["héllo","world"]') t.fail(`split at ${split}: ${JSON.stringify(all)}`);
  }
  t.pass('every split point gives the same two lines');
  writeFileSync(path, '2024-01-01T00:00:00Z stdout F a\n');
  t.same(
    cursor.read().map((e) => e.content),
    ['a'],
  );
  writeFileSync(path, 'x\n');
  t.same(
    cursor.read().map((e) => e.content),
    ['x'],
    'a truncated file is read from its start',
  );
});

t.test('LogStore lays files out like /var/log/pods and numbers generated lines', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kubelet-emulator-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pods = new PodStore('edge-9', '127.0.0.1', [{ namespace: 'ns', name: 'p', containers: ['c'], labels: {} }]);
  const pod = pods.find('ns', 'p')!;
  const store = new LogStore(dir, 'edge-9', pods.list());
  t.equal(store.pathOf(pod, 'c'), join(dir, `ns_p_${pod.uid}`, 'c', '0.log'));
  let wakes = 0;
  const off = store.onAppend(store.pathOf(pod, 'c'), () => wakes++);
  store.tick();
  store.tick();
  store.append(pod, 'c', 'two\nlines\n');
  off();
  store.tick();
  t.equal(wakes, 3);
  const contents = new LogCursor(store.pathOf(pod, 'c')).read().map((e) => e.content);
  t.match(contents, [/Z edge-9\/p\/c line 1$/, /Z edge-9\/p\/c line 2$/, 'two', 'lines', /line 3$/]);
});

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

interface Follow {
  res: IncomingMessage;
  text: () => string;
  abort: () => void;
}

function follow(kubelet: KubeletHandle, query: string, container = 'app'): Promise<Follow> {
  return new Promise((resolve, reject) => {
    const req = request(`${kubelet.url}/containerLogs/default/demo/${container}?follow=true&${query}`, clientTls(), (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (text += s));
      res.on('error', () => undefined);
      resolve({ res, text: () => text, abort: () => req.destroy() });
    });
    req.on('error', () => undefined);
    req.once('error', reject);
    req.end();
  });
}

t.test('logs without follow: content, tailLines, timestamps, limitBytes', async (t) => {
  const kubelet = await startTestKubelet(t);
  for (const line of ['alpha', 'beta', 'gamma']) kubelet.appendLog('default', 'demo', 'app', line);
  kubelet.appendLog('default', 'demo', 'sidecar', 'only in sidecar');

  const all = await httpsGet(kubelet, '/containerLogs/default/demo/app');
  t.equal(all.status, 200);
  t.match(all.headers['content-type'], /^text\/plain/);
  const lines = all.body.split('\n');
  const [time, first] = lines[0]!.split(' ');
  t.match(time, ISO, 'generated line starts with its time');
  t.equal(first, 'edge-1/demo/app');
  t.match(lines[0], / line 1$/);
  t.same(lines.slice(1), ['alpha', 'beta', 'gamma', '']);

  t.equal((await httpsGet(kubelet, '/containerLogs/default/demo/app?tailLines=2')).body, 'beta\ngamma\n');
  t.equal((await httpsGet(kubelet, '/containerLogs/default/demo/app?tailLines=0')).body, '');
  t.equal((await httpsGet(kubelet, '/containerLogs/default/demo/app?tailLines=2&limitBytes=7')).body, 'beta\nga');
  const stamped = (await httpsGet(kubelet, '/containerLogs/default/demo/app?tailLines=1&timestamps=true')).body;
  t.match(stamped.split(' ')[0], ISO);
  t.equal(stamped.split(' ').slice(1).join(' '), 'gamma\n');
  t.equal((await httpsGet(kubelet, '/containerLogs/default/demo/sidecar?tailLines=1')).body, 'only in sidecar\n');
  t.equal((await httpsGet(kubelet, '/containerLogs/default/demo/app?sinceSeconds=3600&tailLines=1')).body, 'gamma\n');
});

t.test('logs errors are kubelet-like', async (t) => {
  const kubelet = await startTestKubelet(t);
  const noPod = await httpsGet(kubelet, '/containerLogs/default/nope/app');
  t.equal(noPod.status, 404);
  t.equal(noPod.body, 'pod "nope" does not exist');
  const noContainer = await httpsGet(kubelet, '/containerLogs/default/demo/db');
  t.equal(noContainer.status, 404);
  t.equal(noContainer.body, 'container "db" not found in pod "demo"');
  t.equal((await httpsGet(kubelet, '/containerLogs/default/demo/app?tailLines=-1')).status, 400);
  t.throws(() => kubelet.appendLog('default', 'demo', 'db', 'x'), { code: 'ERR_KUBELET_UNKNOWN_CONTAINER' });
});

t.test('follow streams lines appended after it started', async (t) => {
  const kubelet = await startTestKubelet(t);
  const starts: unknown[] = [];
  kubelet.events.on('follow-start', (e) => starts.push(e));
  const f = await follow(kubelet, 'tailLines=0');
  t.equal(kubelet.activeFollowers(), 1);
  t.match(starts, [{ namespace: 'default', pod: 'demo', container: 'app' }]);

  kubelet.appendLog('default', 'demo', 'app', 'fresh-1');
  const viaAppend = await waitFor(() => f.text().includes('fresh-1\n'), 1000, 'appended line');
  t.ok(viaAppend < 200, `appendLog line arrived in ${viaAppend} ms`);

  // A line written to the file by someone else is found by polling.
  const podDir = readdirSync(kubelet.logDir).find((d) => d.startsWith('default_demo_'))!;
  appendFileSync(join(kubelet.logDir, podDir, 'app', '0.log'), `${new Date().toISOString()} stdout F external\n`);
  const viaFile = await waitFor(() => f.text().includes('external\n'), 1000, 'external line');
  t.ok(viaFile < 200, `externally written line arrived in ${viaFile} ms`);
  t.equal(f.text(), 'fresh-1\nexternal\n');
  f.abort();
});

t.test('follow gets the generated lines and ends at limitBytes', async (t) => {
  const kubelet = await startTestKubelet(t, { logLineIntervalMs: 40 });
  const f = await follow(kubelet, 'tailLines=0&limitBytes=60', 'sidecar');
  await new Promise((resolve) => f.res.on('end', resolve));
  t.equal(Buffer.byteLength(f.text()), 60);
  t.match(f.text(), /^\S+Z edge-1\/demo\/sidecar line \d+\n/);
  await waitFor(() => kubelet.activeFollowers() === 0, 500, 'follower cleanup');
});

t.test('a client abort cleans the follower up at once', async (t) => {
  const kubelet = await startTestKubelet(t);
  const ends: { reason?: string }[] = [];
  kubelet.events.on('follow-end', (e: { reason?: string }) => ends.push(e));
  const a = await follow(kubelet, '');
  const b = await follow(kubelet, 'tailLines=1');
  t.equal(kubelet.activeFollowers(), 2);
  a.abort();
  const took = await waitFor(() => kubelet.activeFollowers() === 1, 500, 'first follower cleanup');
  t.ok(took < 500);
  t.match(ends, [{ reason: 'client-closed', container: 'app' }]);
  b.abort();
  await waitFor(() => kubelet.activeFollowers() === 0, 500, 'second follower cleanup');
  t.equal(ends.length, 2);
});

t.test('close() ends open followers', async (t) => {
  const kubelet = await startTestKubelet(t);
  const f = await follow(kubelet, '');
  const ended = new Promise((resolve) => f.res.on('close', resolve));
  await kubelet.close();
  await ended;
  t.equal(kubelet.activeFollowers(), 0);
});
