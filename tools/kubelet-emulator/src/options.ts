import type { KubeletWebhookOptions } from './auth.js';
import { badOptions } from './errors.js';

/** A pod served by the emulator. Its containers are names only. */
export interface PodSpec {
  /** Default `default`. */
  namespace?: string;
  name: string;
  containers: string[];
  labels?: Record<string, string>;
}

/** PEM texts (not file paths). With `ca`, clients must present a certificate signed by it. */
export interface KubeletTlsOptions {
  cert: string;
  key: string;
  ca?: string;
}

/** Called once per request when its response is done (upgrades report 101 or the rejection). */
export type RequestListener = (method: string, path: string, status: number) => void;

export interface KubeletOptions {
  nodeName: string;
  /** Bind address of both listeners, e.g. 127.0.10.1. */
  host: string;
  /** Default 10250; 0 picks an ephemeral port. */
  httpsPort?: number;
  /** Read-only port, default 10255; 0 picks an ephemeral port. */
  httpPort?: number;
  tls: KubeletTlsOptions;
  /** Default: one pod `default/demo` with containers `app` and `sidecar`. */
  pods?: PodSpec[];
  /** Default: a temp dir, removed by close(). */
  logDir?: string;
  /** Default 1000; 0 turns the generated log lines off. */
  logLineIntervalMs?: number;
  onRequest?: RequestListener;
  /**
   * Webhook authn/authz of the HTTPS port, as a kubelet with --anonymous-auth=false and
   * --authorization-mode=Webhook: a client certificate from `tls.ca` or a bearer token (TokenReview),
   * then a SubjectAccessReview per request (src/auth.ts). Absent: a certificate from `tls.ca` is all.
   */
  webhook?: KubeletWebhookOptions;
}

export interface ResolvedPodSpec {
  namespace: string;
  name: string;
  containers: string[];
  labels: Record<string, string>;
}

export interface ResolvedOptions {
  nodeName: string;
  host: string;
  httpsPort: number;
  httpPort: number;
  tls: KubeletTlsOptions;
  pods: ResolvedPodSpec[];
  logDir: string | undefined;
  logLineIntervalMs: number;
  onRequest: RequestListener | undefined;
  webhook: KubeletWebhookOptions | undefined;
}

export const DEFAULT_HTTPS_PORT = 10250;
export const DEFAULT_HTTP_PORT = 10255;
export const DEFAULT_LOG_LINE_INTERVAL_MS = 1000;
export const DEFAULT_PODS: readonly PodSpec[] = [{ namespace: 'default', name: 'demo', containers: ['app', 'sidecar'] }];

/** Kubernetes object names: DNS labels/subdomains; also keeps them safe as file names. */
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function resolveOptions(options: KubeletOptions): ResolvedOptions {
  if (typeof options.nodeName !== 'string' || !NAME.test(options.nodeName)) {
    throw badOptions(`nodeName must be a lower-case DNS name, got ${JSON.stringify(options.nodeName)}`);
  }
  if (typeof options.host !== 'string' || options.host === '') {
    throw badOptions('host must be the address to bind, e.g. 127.0.10.1');
  }
  return {
    nodeName: options.nodeName,
    host: options.host,
    httpsPort: port('httpsPort', options.httpsPort, DEFAULT_HTTPS_PORT),
    httpPort: port('httpPort', options.httpPort, DEFAULT_HTTP_PORT),
    tls: resolveTls(options.tls),
    pods: resolvePods(options.pods ?? DEFAULT_PODS),
    logDir: options.logDir,
    logLineIntervalMs: interval(options.logLineIntervalMs),
    onRequest: options.onRequest,
    webhook: options.webhook,
  };
}

function port(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw badOptions(`${name} must be an integer from 0 to 65535, got ${value}`);
  }
  return value;
}

function interval(value: number | undefined): number {
  if (value === undefined) return DEFAULT_LOG_LINE_INTERVAL_MS;
  if (!Number.isFinite(value) || value < 0) {
    throw badOptions(`logLineIntervalMs must be 0 (off) or a positive number of ms, got ${value}`);
  }
  return value;
}

function resolveTls(tls: KubeletTlsOptions | undefined): KubeletTlsOptions {
  if (!tls) throw badOptions('tls.cert and tls.key are required (PEM text)');
  for (const field of ['cert', 'key', 'ca'] as const) {
    const value = tls[field];
    if (value === undefined && field === 'ca') continue;
    if (typeof value !== 'string' || !value.includes('-----BEGIN')) {
      throw badOptions(`tls.${field} must be PEM text, not a file path: read the file first`);
    }
  }
  return { ...tls };
}

function resolvePods(pods: readonly PodSpec[]): ResolvedPodSpec[] {
  const seen = new Set<string>();
  return pods.map((pod) => {
    const namespace = pod.namespace ?? 'default';
    const key = `${namespace}/${pod.name}`;
    if (!NAME.test(namespace) || !NAME.test(pod.name)) {
      throw badOptions(`pod ${JSON.stringify(key)} must have lower-case DNS names`);
    }
    if (seen.has(key)) throw badOptions(`pod ${key} is listed twice`);
    seen.add(key);
    if (!Array.isArray(pod.containers) || pod.containers.length === 0) {
      throw badOptions(`pod ${key} needs at least one container`);
    }
    if (new Set(pod.containers).size !== pod.containers.length || !pod.containers.every((c) => NAME.test(c))) {
      throw badOptions(`pod ${key} has a duplicate or invalid container name`);
    }
    return { namespace, name: pod.name, containers: [...pod.containers], labels: { ...pod.labels } };
  });
}
