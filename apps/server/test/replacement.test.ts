// Issue 13 attack 2: a new session replaces a live one only with a certificate issued at or after
// the live one's. The listener-level behaviour (real agents) is tools/lab/test/hostile-edge/
// older-certificate-replaces-live-session.test.ts.
import t from 'tap';
import { replacementRefusal } from '../src/agents/replacement.js';
import type { AgentSession } from '../src/agents/registry.js';

const agent = (certNotBefore: number | undefined, certSerial = 'AA'): AgentSession => ({
  sessionId: certSerial,
  nodeName: 'edge-b',
  nodeIps: [],
  agentVersion: 'x',
  remoteAddress: 'r',
  connectedAt: 0,
  ports: {},
  session: {} as AgentSession['session'],
  ...(certNotBefore !== undefined ? { certNotBefore, certSerial } : {}),
});

t.test('replacementRefusal', async (t) => {
  t.equal(replacementRefusal(undefined, agent(1000)), undefined, 'no live session: attach');
  t.equal(replacementRefusal(agent(1000), agent(1000)), undefined, 'the same certificate reconnecting replaces');
  t.equal(replacementRefusal(agent(1000), agent(2000, 'BB')), undefined, 'a newer certificate replaces');
  t.match(
    replacementRefusal(agent(2000, 'BB'), agent(1000, 'AA')),
    /live session with a newer certificate \(serial BB, issued 1970-01-01T00:00:02.000Z\) than this one \(serial AA, issued 1970-01-01T00:00:01.000Z\)/,
    'an older one is refused',
  );
  t.equal(replacementRefusal(agent(undefined), agent(1000)), undefined, 'unknown dates (sessions without certificates in tests): attach');
});
