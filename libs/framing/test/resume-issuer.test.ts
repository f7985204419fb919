// Session ids carry the issuing server's tag (ResumeTable `issuer`): a replica asked to resume a
// session another replica issued (a load balancer sent the resume there) refuses OTHER_REPLICA,
// which the agent may retry elsewhere; an id with its own tag that it does not hold is still
// UNKNOWN_SESSION (restarted, grace passed), which ends the session. Without `issuer` every
// unknown id is UNKNOWN_SESSION, as before. The REFUSED codes of the spec and README are RefuseCode.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Stream } from '../src/stream.js';
import { issuerTag } from '../src/resume/server.js';
import { ISSUER_TAG_BYTES, RefuseCode } from '../src/resume/records.js';
import { resumeRig } from './fixtures/resume-rig.js';
import { until, within } from './fixtures/streams.js';

const withTag = (serverId: string): Buffer => Buffer.concat([issuerTag(serverId), randomBytes(16 - ISSUER_TAG_BYTES)]);

t.test("a replica refuses another replica's session OTHER_REPLICA, its own unknown one UNKNOWN_SESSION; the owner still resumes", async (t) => {
  const rig = await resumeRig({ issuer: 'r1' });
  t.teardown(() => rig.close());
  t.same(rig.credentials.sessionId.subarray(0, ISSUER_TAG_BYTES), issuerTag('r1'), "the session id starts with r1's tag");
  t.notSame(issuerTag('r1'), issuerTag('r2'), 'replicas have different tags');
  t.same(issuerTag('r1'), issuerTag('r1'), 'a restarted r1 has the same tag');
  const accepted = new Promise<Stream>((resolve) => rig.server.once('stream', (s: Stream) => (s.accept(), resolve(s))));
  const up = rig.client.open({ host: 'h', port: 1 });
  const down = await accepted;
  for (const s of [up, down]) s.on('error', () => {});
  rig.cut();
  await until(() => rig.clientLink.paused && rig.serverLink.paused, 5_000, 'paused');
  await t.rejects(
    rig.resume('edge-1', { ...rig.credentials, sessionId: withTag('r2') }),
    { refusal: 'OTHER_REPLICA', message: /issued by another replica .*this is r1/ },
    "r2's session at r1 → OTHER_REPLICA",
  );
  await t.rejects(
    rig.resume('edge-1', { ...rig.credentials, sessionId: withTag('r1') }),
    { refusal: 'UNKNOWN_SESSION', message: /no session/ },
    "r1's tag, not held → UNKNOWN_SESSION",
  );
  t.same(rig.table.counters.refused, { OTHER_REPLICA: 1, UNKNOWN_SESSION: 1 }, 'refusals counted by code');
  t.ok(rig.serverLink.paused && !rig.serverLink.destroyed, 'the refusals did not touch the held session');
  await rig.resume();
  up.write('after');
  const chunk = await within(new Promise<Buffer>((r) => down.once('data', r)), 5_000, 'data after resume');
  t.equal(chunk.toString(), 'after', 'the owner resumed');
});

t.test('without an issuer, ids are random and an unknown id is UNKNOWN_SESSION', async (t) => {
  const rig = await resumeRig();
  t.teardown(() => rig.close());
  rig.cut();
  await until(() => rig.clientLink.paused && rig.serverLink.paused, 5_000, 'paused');
  await t.rejects(
    rig.resume('edge-1', { ...rig.credentials, sessionId: withTag('r2') }),
    { refusal: 'UNKNOWN_SESSION', message: /no session/ },
    'no tag check',
  );
});

t.test('spec §10.2 and the README list exactly the REFUSED codes, same numbers', async (t) => {
  const spec = readFileSync(new URL('../docs/spec.md', import.meta.url), 'utf8');
  const section = spec.slice(spec.indexOf('REFUSED codes:'), spec.indexOf('### 10.3'));
  t.same(Object.fromEntries([...section.matchAll(/(\d+)\s+`([A-Z_]+)`/g)].map((m) => [m[2], Number(m[1])])), RefuseCode, 'spec');
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const rows = [...readme.matchAll(/^\| (\d+) \| `([A-Z_]+)` \|/gm)].map((m) => [m[2], Number(m[1])]);
  t.same(Object.fromEntries(rows), RefuseCode, 'README table');
});
