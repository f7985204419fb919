// The agent's proof: accepted for a certificate of the agent CA whose key signed this challenge;
// refused, with the reason, for each way an attacker could try without that key or certificate.
import t from 'tap';
import { createCa, issueAgentCert, issueServerCert } from '@edge-tunnel/pki';
import { challengeMessage, newChallenge, proofMessage, readChallenge, verifyProof } from '../src/index.js';

const ca = await createCa({ commonName: 'agents' });
const otherCa = await createCa({ commonName: 'someone else' });
const agent = await issueAgentCert(ca, 'edge-a', ['10.0.0.1']);
const foreign = await issueAgentCert(otherCa, 'edge-a', ['10.0.0.1']);
const serverOnly = await issueServerCert(ca, { dnsNames: ['server'] });
const expired = await issueAgentCert(ca, 'edge-a', [], { validityDays: 1 });

t.test('a proof with the agent key over this challenge is accepted', async (t) => {
  const challenge = newChallenge();
  t.same(readChallenge(challengeMessage(challenge)), challenge);
  const v = verifyProof(proofMessage(challenge, agent.certPem, agent.keyPem), challenge, ca.certPem);
  t.ok(v.ok);
  if (v.ok) t.match(v.cert.subject, /CN=edge-a/);
});

t.test('refusals', async (t) => {
  const challenge = newChallenge();
  const refused = (text: string, re: RegExp, now?: Date) => {
    const v = verifyProof(text, challenge, ca.certPem, now);
    t.notOk(v.ok);
    if (!v.ok) t.match(v.reason, re);
  };
  // replay: a proof made for another connection's challenge
  refused(proofMessage(newChallenge(), agent.certPem, agent.keyPem), /does not match this connection's challenge/);
  // someone else's certificate, without its key: signed with another key
  refused(proofMessage(challenge, agent.certPem, foreign.keyPem), /does not match/);
  refused(proofMessage(challenge, foreign.certPem, foreign.keyPem), /not signed by the agent CA/);
  refused(proofMessage(challenge, serverOnly.certPem, serverOnly.keyPem), /not for client authentication/);
  refused(proofMessage(challenge, expired.certPem, expired.keyPem), /expired/, new Date(Date.now() + 3 * 86_400_000));
  refused(proofMessage(challenge, agent.certPem, agent.keyPem), /not yet valid/, new Date(Date.now() - 3 * 86_400_000));
  refused('not json', /not JSON/);
  refused(JSON.stringify({ cert: 'x' }), /no certificate or no signature/);
  refused(JSON.stringify({ cert: agent.certPem, signature: 'AAAA' }), /does not match/);
  refused('x'.repeat(70_000), /larger than/);
  t.equal(readChallenge('{"challenge":"AAAA"}'), undefined, 'a short challenge is not one');
  t.equal(readChallenge('nope'), undefined);
});
