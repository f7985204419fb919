// Agent enrollment in a cluster: the agent presents a bootstrap token, its node name and a CSR. The
// token must match a key of the bootstrap Secret, the Node must exist, and the certificate is signed
// for the node's name and InternalIPs — whatever the CSR claims.
import { createHash, timingSafeEqual } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1Node } from '@kubernetes/client-node';
import { PkiError, signCsr } from '@edge-tunnel/pki';
import type { CaBundle, SignedCert } from '@edge-tunnel/pki';
import { internalIps } from './edge-nodes.js';
import { KubeError, KubeErrorCode, apiError, isNotFound } from './errors.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';

export interface EnrollerOptions {
  /** The CA that signs agent certificates (see loadOrCreateCa). */
  ca: CaBundle;
  /** Default `kube-system`. */
  namespace?: string;
  /** Default `edge-tunnel-bootstrap`. */
  secretName?: string;
  /** Validity of issued certificates; default 365 days. */
  validityDays?: number;
  logger?: Logger;
}

export interface EnrollRequest {
  token: string;
  nodeName: string;
  csrPem: string;
}

/** Data keys of the bootstrap Secret that hold tokens: `token` and `token-<id>`. */
const TOKEN_KEY = /^token(-[A-Za-z0-9._-]+)?$/;
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export class Enroller {
  readonly #core: CoreV1Api;
  readonly #ca: CaBundle;
  readonly #ns: string;
  readonly #secret: string;
  readonly #validityDays: number | undefined;
  readonly #log: Logger;

  constructor(kc: KubeConfig, opts: EnrollerOptions) {
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#ca = opts.ca;
    this.#ns = opts.namespace ?? 'kube-system';
    this.#secret = opts.secretName ?? 'edge-tunnel-bootstrap';
    this.#validityDays = opts.validityDays;
    this.#log = opts.logger ?? silentLogger;
  }

  /**
   * Checks the token, then the Node, then signs. Throws KubeError ERR_KUBE_ENROLL_BAD_TOKEN,
   * ERR_KUBE_ENROLL_UNKNOWN_NODE, ERR_KUBE_ENROLL_BAD_CSR, ERR_KUBE_ENROLL_SIGN_FAILED, or ERR_KUBE_API
   * when the API cannot answer.
   */
  async enroll(req: EnrollRequest): Promise<SignedCert> {
    const nodeName = typeof req.nodeName === 'string' ? req.nodeName : '';
    try {
      await this.#checkToken(typeof req.token === 'string' ? req.token : '');
      const node = await this.#readNode(nodeName);
      const ips = internalIps(node);
      const signed = await this.#sign(req.csrPem, nodeName, ips);
      this.#log.info({ nodeName, ips }, 'agent enrolled');
      return signed;
    } catch (err) {
      const code = (err as KubeError).code;
      this.#log.warn({ nodeName: nodeName.slice(0, 253), code, reason: (err as Error).message }, 'enrollment refused');
      throw err;
    }
  }

  async #checkToken(token: string): Promise<void> {
    const where = `Secret ${this.#ns}/${this.#secret}`;
    if (token === '') throw new KubeError(KubeErrorCode.ENROLL_BAD_TOKEN, 'no bootstrap token was presented');
    let data: Record<string, string> = {};
    try {
      data = (await this.#core.readNamespacedSecret({ namespace: this.#ns, name: this.#secret })).data ?? {};
    } catch (err) {
      if (!isNotFound(err)) throw apiError(`read ${where}`, err);
      throw new KubeError(KubeErrorCode.ENROLL_BAD_TOKEN, `the bootstrap token is not valid: ${where} does not exist, so no token is accepted`);
    }
    const presented = digest(Buffer.from(token, 'utf8'));
    let match = false;
    for (const [key, value] of Object.entries(data)) {
      if (!TOKEN_KEY.test(key) || !value) continue;
      const expected = Buffer.from(value, 'base64').toString('utf8').trim();
      if (expected === '') continue;
      // Compare digests (equal lengths) in constant time; keep looping to not reveal which key matched.
      match = timingSafeEqual(presented, digest(Buffer.from(expected, 'utf8'))) || match;
    }
    if (!match) {
      throw new KubeError(KubeErrorCode.ENROLL_BAD_TOKEN, `the bootstrap token is not valid: it matches no token key of ${where}`);
    }
  }

  async #readNode(nodeName: string): Promise<V1Node> {
    if (nodeName.length === 0 || nodeName.length > 253 || !NODE_NAME.test(nodeName)) {
      throw new KubeError(KubeErrorCode.ENROLL_UNKNOWN_NODE, `'${nodeName.slice(0, 64)}' is not a valid node name`);
    }
    try {
      return await this.#core.readNode({ name: nodeName });
    } catch (err) {
      if (!isNotFound(err)) throw apiError(`read Node ${nodeName}`, err);
      throw new KubeError(KubeErrorCode.ENROLL_UNKNOWN_NODE, `node ${nodeName} does not exist in the cluster; join the node before enrolling its agent`);
    }
  }

  async #sign(csrPem: string, nodeName: string, ips: string[]): Promise<SignedCert> {
    if (typeof csrPem !== 'string' || csrPem.trim() === '') {
      throw new KubeError(KubeErrorCode.ENROLL_BAD_CSR, 'no certificate signing request was presented');
    }
    try {
      return await signCsr(this.#ca, csrPem, { nodeName, ips, validityDays: this.#validityDays });
    } catch (err) {
      if (err instanceof PkiError && err.code === 'ERR_PKI_INVALID_CSR') {
        throw new KubeError(KubeErrorCode.ENROLL_BAD_CSR, `the certificate signing request was refused: ${err.message}`, { cause: err });
      }
      throw new KubeError(KubeErrorCode.ENROLL_SIGN_FAILED, `cannot sign a certificate for node ${nodeName}: ${(err as Error).message}`, { cause: err });
    }
  }
}

function digest(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}
