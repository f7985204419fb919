import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import t from 'tap';
import { PkiErrorCode, createCa, generateKeyPair, issueCertificate } from '../src/index.js';
import { testCas, testKeys } from './fixtures/pki.js';

t.test('generateKeyPair: 2048-bit RSA, PKCS#8 + SPKI PEM that belong together', async (t) => {
  const pair = await generateKeyPair();
  t.match(pair.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
  t.match(pair.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
  const priv = createPrivateKey(pair.privateKeyPem);
  t.equal(priv.asymmetricKeyType, 'rsa');
  t.equal(priv.asymmetricKeyDetails?.modulusLength, 2048);
  t.equal(createPublicKey(priv).export({ type: 'spki', format: 'pem' }), createPublicKey(pair.publicKeyPem).export({ type: 'spki', format: 'pem' }));
});

t.test('generateKeyPair rejects sizes outside 2048..8192 or not a multiple of 8', async (t) => {
  for (const bits of [1024, 2047, 2048.5, 16384, Number.NaN]) {
    await t.rejects(generateKeyPair(bits), { code: PkiErrorCode.INVALID_OPTIONS }, `bits=${bits}`);
  }
});

t.test('a PKCS#1 private key is accepted; publicKeyPem may be empty', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const pkcs1 = createPrivateKey(k.leafA.privateKeyPem).export({ type: 'pkcs1', format: 'pem' }) as string;
  const issued = await issueCertificate(ca, { profile: 'client', commonName: 'c', key: { privateKeyPem: pkcs1, publicKeyPem: '' } });
  t.equal(issued.keyPem, pkcs1);
});

t.test('a key pair whose halves do not match is rejected', async (t) => {
  const k = await testKeys();
  const mixed = { privateKeyPem: k.leafA.privateKeyPem, publicKeyPem: k.leafB.publicKeyPem };
  await t.rejects(createCa({ commonName: 'x', key: mixed }), { code: PkiErrorCode.INVALID_KEY });
});

t.test('unreadable or non-RSA keys are rejected with ERR_PKI_INVALID_KEY', async (t) => {
  const { ca } = await testCas();
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const bad = ['', 'not a pem', ec];
  for (const privateKeyPem of bad) {
    await t.rejects(issueCertificate(ca, { profile: 'client', commonName: 'c', key: { privateKeyPem, publicKeyPem: '' } }), { code: PkiErrorCode.INVALID_KEY });
  }
});
