// Enrollment records: which certificate each node was last issued, in one ConfigMap (key: node
// name, value: JSON). The enroller reads them to refuse a token holder re-enrolling a node that holds
// an unexpired certificate, and to count a token's uses. Writes are optimistic (resourceVersion):
// a concurrent enrollment makes the loser re-read and decide again, so two token holders cannot
// both pass the check for one node.
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import { KubeError, KubeErrorCode, apiError, isConflict, isNotFound } from './errors.js';

/** The certificate issued to a node, as recorded. */
export interface EnrollmentRecord {
  /** hex, as X509Certificate prints it */
  serial: string;
  notBefore: string;
  notAfter: string;
  /** the bootstrap Secret key of the token that enrolled the node; `renewal` keeps the original */
  token: string;
  /** when the record was written */
  at: string;
}

export const DEFAULT_ENROLLMENTS_CONFIGMAP = 'edge-tunnel-enrollments';
const MAX_ATTEMPTS = 5;

export class EnrollmentRecords {
  readonly #core: CoreV1Api;
  constructor(
    kc: KubeConfig,
    readonly namespace: string,
    readonly name: string = DEFAULT_ENROLLMENTS_CONFIGMAP,
  ) {
    this.#core = kc.makeApiClient(CoreV1Api);
  }

  get where(): string {
    return `ConfigMap ${this.namespace}/${this.name}`;
  }

  /**
   * Reads the records, lets `decide` return the node's new record (or throw a refusal), and writes
   * it; on a conflicting write, starts over. Returns what `decide` returned last.
   */
  async update<T extends { record: EnrollmentRecord }>(nodeName: string, decide: (records: ReadonlyMap<string, EnrollmentRecord>) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      const cm = await this.#read();
      const decided = await decide(recordsOf(cm));
      const data = { ...(cm?.data ?? {}), [nodeName]: JSON.stringify(decided.record) };
      try {
        if (cm === undefined)
          await this.#core.createNamespacedConfigMap({ namespace: this.namespace, body: { metadata: { name: this.name, namespace: this.namespace }, data } });
        else await this.#core.replaceNamespacedConfigMap({ namespace: this.namespace, name: this.name, body: { ...cm, data } });
        return decided;
      } catch (err) {
        if (!isConflict(err)) throw apiError(`write ${this.where}`, err);
        if (attempt >= MAX_ATTEMPTS)
          throw new KubeError(KubeErrorCode.API, `write ${this.where}: ${MAX_ATTEMPTS} conflicting writes in a row; retry`, { cause: err });
      }
    }
  }

  async #read(): Promise<V1ConfigMap | undefined> {
    try {
      return await this.#core.readNamespacedConfigMap({ namespace: this.namespace, name: this.name });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw apiError(`read ${this.where}`, err);
    }
  }
}

/** The parseable records of the ConfigMap; an unreadable entry counts as a live certificate (fail closed). */
export function recordsOf(cm: Pick<V1ConfigMap, 'data'> | undefined): Map<string, EnrollmentRecord> {
  const out = new Map<string, EnrollmentRecord>();
  for (const [node, text] of Object.entries(cm?.data ?? {})) {
    try {
      const r = JSON.parse(text) as Partial<EnrollmentRecord>;
      out.set(node, {
        serial: String(r.serial ?? ''),
        notBefore: String(r.notBefore ?? ''),
        notAfter: String(r.notAfter ?? ''),
        token: String(r.token ?? ''),
        at: String(r.at ?? ''),
      });
    } catch {
      out.set(node, { serial: '', notBefore: '', notAfter: '9999-12-31T00:00:00Z', token: '', at: '' });
    }
  }
  return out;
}

/** The kubectl command that clears a node's record (the operator action that allows a fresh token enrollment). */
export function clearRecordCommand(records: Pick<EnrollmentRecords, 'namespace' | 'name'>, nodeName: string): string {
  return `kubectl -n ${records.namespace} patch configmap ${records.name} --type=json -p '[{"op":"remove","path":"/data/${nodeName}"}]'`;
}
