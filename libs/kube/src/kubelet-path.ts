// Kubelet API paths that name a pod. kube-apiserver sends them to the pod's node; when such a request
// reaches the tunnel with a Host that is not a node address, the pod's node is looked up instead.

/** The kubelet endpoints that carry `<namespace>/<pod>` right after the verb. */
export const KubeletVerb = {
  /** `/containerLogs/<ns>/<pod>/<container>` */
  containerLogs: 'containerLogs',
  /** `/exec/<ns>/<pod>[/<uid>]/<container>` */
  exec: 'exec',
  /** `/attach/<ns>/<pod>[/<uid>]/<container>` */
  attach: 'attach',
  /** `/portForward/<ns>/<pod>[/<uid>]` */
  portForward: 'portForward',
  /** `/run/<ns>/<pod>[/<uid>]/<container>` */
  run: 'run',
} as const;
export type KubeletVerb = (typeof KubeletVerb)[keyof typeof KubeletVerb];

export interface KubeletPodPath {
  verb: KubeletVerb;
  namespace: string;
  pod: string;
  /** Absent for portForward (and for a pod UID-only path). */
  container?: string;
  uid?: string;
}

/** Segments after `<ns>/<pod>`: [min, max]. */
const TAIL: Record<KubeletVerb, readonly [number, number]> = {
  containerLogs: [1, 1],
  exec: [1, 2],
  attach: [1, 2],
  portForward: [0, 1],
  run: [1, 2],
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * `{ verb, namespace, pod, container?, uid? }` for a kubelet pod path (query string ignored), or
 * undefined for any other path or for names that are not valid Kubernetes names.
 */
export function parseKubeletPath(path: string): KubeletPodPath | undefined {
  if (typeof path !== 'string' || !path.startsWith('/')) return undefined;
  const bare = path.split(/[?#]/, 1)[0]!;
  const parts = bare.slice(1).split('/');
  if (parts.at(-1) === '') parts.pop();
  const segments = decodeAll(parts);
  if (!segments || segments.some((s) => s === '')) return undefined;
  const [verb, namespace, pod, ...tail] = segments;
  if (!verb || !Object.hasOwn(TAIL, verb) || namespace === undefined || pod === undefined) return undefined;
  const [min, max] = TAIL[verb as KubeletVerb];
  if (tail.length < min || tail.length > max) return undefined;
  if (!DNS_LABEL.test(namespace) || pod.length > 253 || !DNS_SUBDOMAIN.test(pod)) return undefined;
  const result: KubeletPodPath = { verb: verb as KubeletVerb, namespace, pod };
  if (verb === KubeletVerb.portForward) {
    if (tail[0] !== undefined) result.uid = tail[0];
  } else {
    if (tail.length === 2) result.uid = tail[0];
    result.container = tail.at(-1);
  }
  return result;
}

function decodeAll(parts: string[]): string[] | undefined {
  try {
    return parts.map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
}
