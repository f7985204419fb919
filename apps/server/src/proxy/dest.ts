// Where a request wants to go: the X-Tunnel-Proxy-Dest header when present, else the Host header
// (`nodeIP:port` or `nodeName:port`, both survive DNAT). Parsed with dnat's parseDest.
import type { IncomingMessage } from 'node:http';
import { parseDest } from '@edge-tunnel/dnat';
import type { Dest } from '@edge-tunnel/dnat';
import type { Failure } from './http-errors.js';
import { tunnelError } from './tunnel-errors.js';

export const DEST_HEADER = 'x-tunnel-proxy-dest';

/** The destination of `req`, or a 400 Failure naming the header that could not be read. */
export function destOf(req: IncomingMessage): Dest | Failure {
  const header = req.headers[DEST_HEADER];
  const explicit = Array.isArray(header) ? header[0] : header;
  const [name, value] = explicit !== undefined ? ['X-Tunnel-Proxy-Dest', explicit] : ['Host', req.headers.host];
  if (value === undefined || value === '') {
    return {
      ...tunnelError('NO_DESTINATION'),
      message: 'the request has neither an X-Tunnel-Proxy-Dest nor a Host header naming nodeIP:port or nodeName:port',
    };
  }
  const dest = parseDest(value);
  if (dest === undefined) {
    return { ...tunnelError('BAD_DESTINATION'), message: `${name} ${JSON.stringify(value.slice(0, 200))} is not nodeIP:port or nodeName:port` };
  }
  return dest;
}

/** A CONNECT target (`host:port`), or a 400 Failure. */
export function connectDest(target: string | undefined): Dest | Failure {
  const dest = target === undefined ? undefined : parseDest(target);
  if (dest === undefined) {
    return { ...tunnelError('BAD_DESTINATION'), message: `CONNECT target ${JSON.stringify(String(target).slice(0, 200))} is not nodeIP:port or nodeName:port` };
  }
  return dest;
}

export function isFailure(x: object): x is Failure {
  return 'status' in x && 'reason' in x;
}

/** Cluster mode: the node of the pod a kubelet path names (kube-apiserver sends such paths to a pod's node). */
export interface PodRoute {
  /** `{ namespace, pod }` of `/containerLogs|/exec|/attach|/portForward|/run/<ns>/<pod>/…`, else undefined */
  podOf(path: string): { namespace: string; pod: string } | undefined;
  /** the pod's node name; undefined when the pod does not exist or is not scheduled; rejects when the API fails */
  podNode(namespace: string, pod: string): Promise<string | undefined>;
}

/**
 * destOf(req), except that a kubelet pod path whose host is not a node address (`isNode`) goes to the
 * pod's node, same port. A pod that cannot be found is a 502 NODE_UNKNOWN, an API failure a 503.
 */
export async function destWithPodRoute(req: IncomingMessage, isNode: (host: string) => boolean, pods: PodRoute): Promise<Dest | Failure> {
  const dest = destOf(req);
  if (isFailure(dest) || isNode(dest.host)) return dest;
  const target = pods.podOf(req.url ?? '/');
  if (target === undefined) return dest;
  const pod = `${target.namespace}/${target.pod}`;
  let nodeName: string | undefined;
  try {
    nodeName = await pods.podNode(target.namespace, target.pod);
  } catch (err) {
    return {
      ...tunnelError('POD_LOOKUP_FAILED'),
      message: `${dest.host} is not an edge node address and the node of pod ${pod} cannot be looked up: ${(err as Error).message}`,
    };
  }
  if (nodeName === undefined) {
    return {
      ...tunnelError('NODE_UNKNOWN'),
      message: `no edge node has IP or name ${dest.host} (port ${dest.port}), and pod ${pod} named by the path does not exist or is not scheduled.`,
    };
  }
  return { host: nodeName, port: dest.port };
}
