// Kubernetes client configuration: a kubeconfig file (`--kubeconfig`), the in-cluster service account,
// or client-node's default search (KUBECONFIG, ~/.kube/config, in-cluster). Typed API clients from it.
import { existsSync } from 'node:fs';
import { CoordinationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { KubeError, KubeErrorCode } from './errors.js';

export interface LoadKubeConfigOptions {
  /** Path of a kubeconfig file; wins over `inCluster`. */
  kubeconfig?: string;
  /** Use the pod's service account (KUBERNETES_SERVICE_HOST/PORT and its token file). */
  inCluster?: boolean;
  /** Prefix of the service account directory (tests); default ''. */
  serviceAccountRoot?: string;
}

/** Where client-node reads the service account token (below `serviceAccountRoot`). */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Loads a client configuration; throws ERR_KUBE_CONFIG with a sentence when none is usable. */
export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig !== undefined) {
    if (!existsSync(opts.kubeconfig)) {
      throw new KubeError(KubeErrorCode.CONFIG, `kubeconfig file ${opts.kubeconfig} does not exist`);
    }
    try {
      kc.loadFromFile(opts.kubeconfig);
    } catch (err) {
      throw new KubeError(KubeErrorCode.CONFIG, `kubeconfig file ${opts.kubeconfig} cannot be read: ${(err as Error).message}`, { cause: err });
    }
  } else if (opts.inCluster) {
    loadInCluster(kc, opts.serviceAccountRoot ?? '');
  } else {
    try {
      kc.loadFromDefault();
    } catch (err) {
      throw new KubeError(KubeErrorCode.CONFIG, `no Kubernetes configuration found: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!kc.getCurrentCluster()?.server) {
    throw new KubeError(KubeErrorCode.CONFIG, 'the Kubernetes configuration names no current cluster with a server URL; pass --kubeconfig or run in a pod');
  }
  return kc;
}

function loadInCluster(kc: KubeConfig, root: string): void {
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = process.env;
  if (!host || !port) {
    throw new KubeError(
      KubeErrorCode.CONFIG,
      'in-cluster config needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (not running in a pod?); pass --kubeconfig instead',
    );
  }
  const token = `${root}${SERVICE_ACCOUNT_TOKEN}`;
  if (!existsSync(token)) {
    throw new KubeError(KubeErrorCode.CONFIG, `in-cluster config needs the service account token ${token}; is automountServiceAccountToken off?`);
  }
  kc.loadFromCluster(root);
}

/** The typed API clients this lib uses. */
export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
}

export function createClients(kc: KubeConfig): KubeClients {
  return { kc, core: kc.makeApiClient(CoreV1Api), coordination: kc.makeApiClient(CoordinationV1Api) };
}
