// The cluster CA lives in a Secret of type kubernetes.io/tls (tls.crt, tls.key). The first server to
// start creates it; when two race, the loser of the create (409) reads the winner's. An existing
// Secret that does not hold a usable CA is an error, never overwritten.
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import { certIdentity, createCa } from '@edge-tunnel/pki';
import type { CaBundle } from '@edge-tunnel/pki';
import { KubeError, KubeErrorCode, apiError, isConflict, isNotFound } from './errors.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';

export interface CaSecretOptions {
  /** Default `kube-system`. */
  namespace?: string;
  /** Default `edge-tunnel-ca`. */
  name?: string;
  /** CN of a newly created CA; default `edge-tunnel-ca`. */
  commonName?: string;
  /** Validity of a newly created CA; default 3650 days. */
  validityDays?: number;
  logger?: Logger;
}

/** Keys of a kubernetes.io/tls Secret. */
export const TLS_CERT_KEY = 'tls.crt';
export const TLS_KEY_KEY = 'tls.key';

export interface LoadedCaSecret extends CaBundle {
  /** true when this call created the Secret */
  created: boolean;
}

/** Reads the CA from its Secret, creating both when absent. Throws KubeError (CA_SECRET or API). */
export async function loadOrCreateCa(kc: KubeConfig, opts: CaSecretOptions = {}): Promise<LoadedCaSecret> {
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = opts.namespace ?? 'kube-system';
  const name = opts.name ?? 'edge-tunnel-ca';
  const log = opts.logger ?? silentLogger;
  const where = `Secret ${namespace}/${name}`;
  const existing = await readSecret(core, namespace, name);
  if (existing) return { ...caFromSecret(existing, where), created: false };

  const ca = await createCa({ commonName: opts.commonName ?? 'edge-tunnel-ca', validityDays: opts.validityDays });
  const body: V1Secret = {
    metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'edge-tunnel-server' } },
    type: 'kubernetes.io/tls',
    data: { [TLS_CERT_KEY]: b64(ca.certPem), [TLS_KEY_KEY]: b64(ca.keyPem) },
  };
  try {
    await core.createNamespacedSecret({ namespace, body });
  } catch (err) {
    if (!isConflict(err)) throw apiError(`create ${where}`, err);
    const winner = await readSecret(core, namespace, name);
    if (!winner) throw apiError(`read ${where} after a create race`, err);
    log.info({ secret: where }, 'ca secret created by another replica: using it');
    return { ...caFromSecret(winner, where), created: false };
  }
  log.info({ secret: where }, 'ca secret created');
  return { ...ca, created: true };
}

async function readSecret(core: CoreV1Api, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ namespace, name });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw apiError(`read Secret ${namespace}/${name}`, err);
  }
}

/** The CA PEMs of a tls Secret; throws ERR_KUBE_CA_SECRET when they are missing or not PEM. */
export function caFromSecret(secret: V1Secret, where = 'CA Secret'): CaBundle {
  const certPem = unb64(secret.data?.[TLS_CERT_KEY]);
  const keyPem = unb64(secret.data?.[TLS_KEY_KEY]);
  if (!certPem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new KubeError(KubeErrorCode.CA_SECRET, `${where} has no PEM certificate under ${TLS_CERT_KEY}; fix or delete the Secret`);
  }
  try {
    certIdentity(certPem);
  } catch (err) {
    throw new KubeError(KubeErrorCode.CA_SECRET, `${where}: ${TLS_CERT_KEY} is not a readable certificate; fix or delete the Secret`, { cause: err });
  }
  if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(keyPem)) {
    throw new KubeError(KubeErrorCode.CA_SECRET, `${where} has no PEM private key under ${TLS_KEY_KEY}; fix or delete the Secret`);
  }
  return { certPem, keyPem };
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function unb64(value: string | undefined): string {
  return value ? Buffer.from(value, 'base64').toString('utf8') : '';
}
