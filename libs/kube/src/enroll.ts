// Agent enrollment in a cluster: the agent presents a bootstrap token, its node name and a CSR; the
// certificate is signed for the node's name and InternalIPs, whatever the CSR claims. Rules, in order:
// the token matches a key of the bootstrap Secret; the Node exists and matches an edge selector; the
// token's policy (enroll-tokens.ts: expiration, nodes, max-uses) allows this node; and the node holds
// no unexpired certificate on record (enrollments.ts) — a token holder cannot re-enroll another node.
// A renewal is authenticated by the node's current certificate instead of the token: it must name
// the node and be no older than the recorded one.
import { X509Certificate } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1Node } from '@kubernetes/client-node';
import { PkiError, signCsr } from '@edge-tunnel/pki';
import type { CaBundle, SignedCert } from '@edge-tunnel/pki';
import { DEFAULT_EDGE_SELECTORS, internalIps } from './edge-nodes.js';
import { matchToken, parseTokens, tokenRefusal } from './enroll-tokens.js';
import type { BootstrapToken } from './enroll-tokens.js';
import { EnrollmentRecords, clearRecordCommand } from './enrollments.js';
import type { EnrollmentRecord } from './enrollments.js';
import { KubeError, KubeErrorCode, apiError, isNotFound } from './errors.js';
import { matchesSelector } from './label-match.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';

export interface EnrollerOptions {
  /** The CA that signs agent certificates (see loadOrCreateCa). */
  ca: CaBundle;
  /** Default `kube-system`. */
  namespace?: string;
  /** Default `edge-tunnel-bootstrap`. */
  secretName?: string;
  /** The ConfigMap of enrollment records; default `edge-tunnel-enrollments`. */
  recordsName?: string;
  /** A Node must match one of these to enroll; default DEFAULT_EDGE_SELECTORS. */
  selectors?: readonly string[];
  /** Validity of issued certificates; default 365 days. */
  validityDays?: number;
  logger?: Logger;
}

/** The agent's current certificate, when it presented one the agent CA verified (a renewal). */
export interface PresentedCert {
  commonName: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

export interface EnrollRequest {
  token: string;
  nodeName: string;
  csrPem: string;
  current?: PresentedCert;
}

const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export class Enroller {
  readonly #core: CoreV1Api;
  readonly #ca: CaBundle;
  readonly #ns: string;
  readonly #secret: string;
  readonly #records: EnrollmentRecords;
  readonly #selectors: readonly string[];
  readonly #validityDays: number | undefined;
  readonly #log: Logger;

  constructor(kc: KubeConfig, opts: EnrollerOptions) {
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#ca = opts.ca;
    this.#ns = opts.namespace ?? 'kube-system';
    this.#secret = opts.secretName ?? 'edge-tunnel-bootstrap';
    this.#records = new EnrollmentRecords(kc, this.#ns, opts.recordsName);
    this.#selectors = opts.selectors ?? DEFAULT_EDGE_SELECTORS;
    this.#validityDays = opts.validityDays;
    this.#log = opts.logger ?? silentLogger;
  }

  /**
   * Throws KubeError ERR_KUBE_ENROLL_BAD_TOKEN, _UNKNOWN_NODE, _NOT_EDGE_NODE, _TOKEN_EXPIRED,
   * _TOKEN_NOT_FOR_NODE, _TOKEN_USED_UP, _ALREADY_ENROLLED, _BAD_CSR, _SIGN_FAILED, or ERR_KUBE_API.
   */
  async enroll(req: EnrollRequest): Promise<SignedCert> {
    const nodeName = typeof req.nodeName === 'string' ? req.nodeName : '';
    try {
      const renewal = req.current !== undefined && req.current.commonName.toLowerCase() === nodeName.toLowerCase();
      const token = renewal ? undefined : await this.#checkToken(typeof req.token === 'string' ? req.token : '');
      const node = await this.#readNode(nodeName);
      this.#checkEdge(node, nodeName);
      const ips = internalIps(node);
      const { signed } = await this.#records.update(nodeName, async (records) => {
        const record = records.get(nodeName);
        if (renewal) this.#checkRenewal(nodeName, req.current!, record);
        else
          this.#checkFresh(
            nodeName,
            token!,
            record,
            [...records].filter(([, r]) => r.token === token!.key).map(([n]) => n),
          );
        const signed = await this.#sign(req.csrPem, nodeName, ips);
        return { signed, record: recordOf(signed.certPem, renewal ? (record?.token ?? 'renewal') : token!.key) };
      });
      this.#log.info({ nodeName, ips, renewal, token: token?.key }, 'agent enrolled');
      return signed;
    } catch (err) {
      const code = (err as KubeError).code;
      this.#log.warn({ nodeName: nodeName.slice(0, 253), code, reason: (err as Error).message }, 'enrollment refused');
      throw err;
    }
  }

  async #checkToken(token: string): Promise<BootstrapToken> {
    const where = `Secret ${this.#ns}/${this.#secret}`;
    if (token === '') throw new KubeError(KubeErrorCode.ENROLL_BAD_TOKEN, 'no bootstrap token was presented');
    let data: Record<string, string> = {};
    try {
      data = (await this.#core.readNamespacedSecret({ namespace: this.#ns, name: this.#secret })).data ?? {};
    } catch (err) {
      if (!isNotFound(err)) throw apiError(`read ${where}`, err);
      throw new KubeError(KubeErrorCode.ENROLL_BAD_TOKEN, `the bootstrap token is not valid: ${where} does not exist, so no token is accepted`);
    }
    const match = matchToken(parseTokens(data), token);
    if (match === undefined) throw new KubeError(KubeErrorCode.ENROLL_BAD_TOKEN, `the bootstrap token is not valid: it matches no token key of ${where}`);
    return match;
  }

  #checkEdge(node: V1Node, nodeName: string): void {
    const labels = node.metadata?.labels ?? {};
    if (this.#selectors.some((s) => matchesSelector(labels, s))) return;
    throw new KubeError(
      KubeErrorCode.ENROLL_NOT_EDGE_NODE,
      `node ${nodeName} is not an edge Node: it matches none of ${this.#selectors.map((s) => `'${s}'`).join(', ')}; label it as an edge node before enrolling its agent`,
    );
  }

  #checkFresh(nodeName: string, token: BootstrapToken, record: EnrollmentRecord | undefined, usedBy: string[]): void {
    const refusal = tokenRefusal(token, nodeName, usedBy, `Secret ${this.#ns}/${this.#secret}`);
    if (refusal !== undefined) throw new KubeError(KubeErrorCode[`ENROLL_${refusal.code}`], refusal.reason);
    if (record === undefined || !(Date.parse(record.notAfter) > Date.now())) return;
    throw new KubeError(
      KubeErrorCode.ENROLL_ALREADY_ENROLLED,
      `node ${nodeName} already holds a certificate (serial ${record.serial || '?'}, valid until ${record.notAfter}, enrolled with ${record.token || '?'}) and a bootstrap token cannot re-enroll it; ` +
        `its agent renews with that certificate. If the node lost it, an operator clears the record (${this.#records.where}): ${clearRecordCommand(this.#records, nodeName)}`,
    );
  }

  #checkRenewal(nodeName: string, current: PresentedCert, record: EnrollmentRecord | undefined): void {
    if (current.notAfter.getTime() <= Date.now())
      throw new KubeError(KubeErrorCode.ENROLL_ALREADY_ENROLLED, `the certificate presented for node ${nodeName} has expired; enroll with a bootstrap token`);
    if (record === undefined || record.serial === current.serial) return;
    if (current.notBefore.getTime() >= Date.parse(record.notBefore)) return;
    throw new KubeError(
      KubeErrorCode.ENROLL_ALREADY_ENROLLED,
      `the certificate presented for node ${nodeName} (serial ${current.serial}, issued ${current.notBefore.toISOString()}) is older than the one on record (serial ${record.serial}, issued ${record.notBefore}); only the newest certificate renews`,
    );
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

function recordOf(certPem: string, token: string): EnrollmentRecord {
  const x = new X509Certificate(certPem);
  return {
    serial: x.serialNumber,
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    token,
    at: new Date().toISOString(),
  };
}
