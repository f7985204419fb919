// Throwaway certificates for one run (@edge-tunnel/pki): a CA, a server certificate for 127.0.0.1,
// the kubelet-client pair, the caller pair kube-apiserver presents on :10263, a serving certificate
// for the HTTPS sink on each node IP (the kubelet's) and one agent certificate per node, as PEM files in `dir`.
import { createCa, generateKeyPair, issueAgentCert, issueCallerCert, issueKubeletClientCert, issueServerCert, writePemFiles } from '@edge-tunnel/pki';
import { randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import forge from 'node-forge';
import { join } from 'node:path';

/** A node of the run: its name and IP. @typedef {{ name: string, ip: string }} CertNode */
/** @typedef {Awaited<ReturnType<typeof makeCerts>>} Certs the run's certificates (makeCerts) */

/** @param {string} dir @param {CertNode[]} nodes */
export async function makeCerts(dir, nodes) {
  const ca = await createCa({ commonName: 'edge-tunnel-perf-ca' });
  await writePemFiles(dir, 'ca', { certPem: ca.certPem });
  const server = await issueServerCert(ca, { dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  await writePemFiles(dir, 'server', server);
  await writePemFiles(dir, 'kubelet-client', await issueKubeletClientCert(ca));
  await writePemFiles(dir, 'caller', await issueCallerCert(ca));
  await writePemFiles(dir, 'kubelet-serving', await issueServerCert(ca, { dnsNames: ['kubelet', ...nodes.map((n) => n.name)], ips: nodes.map((n) => n.ip) }));
  for (const node of nodes) await writePemFiles(dir, `agent-${node.name}`, await issueAgentCert(ca, node.name, [node.ip]));
  /** @param {string} name @param {'crt' | 'key'} ext */
  const path = (name, ext) => join(dir, `${name}.${ext}`);
  return {
    dir,
    ca,
    caPem: ca.certPem,
    server,
    path,
    pem: (/** @type {string} */ name, /** @type {'crt' | 'key'} */ ext) => readFileSync(path(name, ext), 'utf8'),
  };
}

/**
 * Many agent identities sharing one key pair (signing only; ~0.1 s each with node-forge).
 * @param {import('@edge-tunnel/pki').CaBundle} ca @param {string[]} names @param {((done: number) => void) | undefined} onProgress
 * @param {(i: number) => string} [ipOf]
 */
export async function agentIdentities(ca, names, onProgress, ipOf = () => '127.0.0.1') {
  const key = await generateKeyPair();
  const out = [];
  for (const [i, name] of names.entries()) {
    out.push(await issueAgentCert(ca, name, [ipOf(i)], { key }));
    onProgress?.(i + 1);
  }
  return out;
}

/**
 * The same identities, fast: one agent certificate issued by @edge-tunnel/pki is the template; each
 * further one copies its subject, validity and extensions with its own CN, SAN and serial, and is
 * signed with Node's native RSA (node-forge's JS RSA takes ~0.1–0.2 s per signature here, too slow for
 * the 10 000 nodes of `scrape`). Only the bench uses this shortcut; the product's certificates come from pki.
 * @param {import('@edge-tunnel/pki').CaBundle} ca @param {string[]} names @param {(i: number) => string} ipOf
 */
export async function agentIdentitiesFast(ca, names, ipOf) {
  const key = await generateKeyPair();
  const first = await issueAgentCert(ca, names[0], [ipOf(0)], { key });
  const tmpl = forge.pki.certificateFromPem(first.certPem);
  const exts = tmpl.extensions.filter((e) => e.name !== 'subjectAltName');
  const out = [{ certPem: first.certPem, keyPem: key.privateKeyPem }];
  for (let i = 1; i < names.length; i++) {
    const cert = forge.pki.createCertificate();
    cert.publicKey = tmpl.publicKey;
    cert.serialNumber = randomBytes(16)
      .toString('hex')
      .replace(/^[89a-f]/, '1');
    cert.validity.notBefore = tmpl.validity.notBefore;
    cert.validity.notAfter = tmpl.validity.notAfter;
    cert.setSubject(tmpl.subject.attributes.map((a) => ({ type: a.type, valueTagClass: a.valueTagClass, value: a.shortName === 'CN' ? names[i] : a.value })));
    cert.setIssuer(tmpl.issuer.attributes.map((a) => ({ type: a.type, valueTagClass: a.valueTagClass, value: a.value })));
    cert.setExtensions([
      ...exts,
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: names[i] },
          { type: 7, ip: ipOf(i) },
        ],
      },
    ]);
    cert.signatureOid = cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption;
    const tbs = Buffer.from(forge.asn1.toDer(/** @type {any} */ (forge.pki).getTBSCertificate(cert)).getBytes(), 'binary');
    cert.signature = sign('sha256', tbs, ca.keyPem).toString('binary');
    out.push({ certPem: forge.pki.certificateToPem(cert), keyPem: key.privateKeyPem });
  }
  return out;
}
