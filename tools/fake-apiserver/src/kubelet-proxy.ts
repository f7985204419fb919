// The kubelet proxy: pods/log, pods/exec, pods/attach and pods/portforward reach the kubelet the way
// kube-apiserver does — HTTPS to the node's kubelet port with the API server's kubelet-client
// certificate — over a connection that the embedder opens (`dial`, e.g. through a tunnel's CONNECT
// frontend). This file resolves Pod → Node → kubelet address and opens the TLS connection.
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { StatusError, badRequest, notFound } from './errors.js';
import type { KubeObject, ObjectStore } from './store.js';

/** How the API server reaches kubelets. */
export interface KubeletProxyOptions {
  /** Opens a byte stream to `nodeIp:port` (or `nodeName:port`); the proxy speaks TLS over it. */
  dial(nodeName: string, nodeIp: string, port: number): Promise<Duplex>;
  /** The API server's kubelet-client certificate (PEM); `ca` verifies kubelet serving certs. */
  tls: { cert: string; key: string; ca?: string };
  /** Dial plus TLS handshake must finish within this. Default 10 000 ms. */
  connectTimeoutMs?: number;
}

/** The kubelet port when the Node does not publish `status.daemonEndpoints.kubeletEndpoint.Port`. */
export const DEFAULT_KUBELET_PORT = 10250;
/** Default deadline of dial plus TLS handshake. */
export const DEFAULT_KUBELET_CONNECT_TIMEOUT_MS = 10_000;
/** Pod subresources served by the kubelet proxy. */
export const KUBELET_SUBRESOURCES = ['log', 'exec', 'attach', 'portforward'] as const;
export type KubeletSubresource = (typeof KUBELET_SUBRESOURCES)[number];

/** Where one pod's kubelet is, and which container a request means. */
export interface KubeletTarget {
  namespace: string;
  pod: string;
  container: string;
  nodeName: string;
  nodeIp: string;
  port: number;
}

export function isKubeletSubresource(name: string | undefined): name is KubeletSubresource {
  return (KUBELET_SUBRESOURCES as readonly string[]).includes(name ?? '');
}

/**
 * Pod → container → Node → address, with kube-apiserver's errors: a missing pod is a 404, an
 * unknown container or an unscheduled pod a 400, a missing node a 404, a node without address a 500.
 * `container` '' picks the only container (port-forward passes undefined: no container needed).
 */
export function resolveKubelet(store: ObjectStore, namespace: string, podName: string, container: string | undefined): KubeletTarget {
  const pod = store.get('pods', namespace, podName);
  if (!pod) throw notFound('pods', podName);
  const names = containerNames(pod);
  let chosen = container ?? '';
  if (container === '') {
    if (names.length !== 1) throw badRequest(`a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]`);
    chosen = names[0]!;
  } else if (container !== undefined && !names.includes(container)) {
    throw badRequest(`container ${container} is not valid for pod ${podName}`);
  }
  const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
  if (!nodeName) throw badRequest(`pod ${podName} does not have a host assigned`);
  const node = store.get('nodes', undefined, nodeName);
  if (!node) throw notFound('nodes', nodeName);
  return { namespace, pod: podName, container: chosen, nodeName, nodeIp: nodeAddress(node), port: kubeletPort(node) };
}

function containerNames(pod: KubeObject): string[] {
  const containers = (pod.spec as { containers?: Array<{ name?: string }> } | undefined)?.containers ?? [];
  return containers.map((c) => c.name ?? '').filter((n) => n !== '');
}

/** The first InternalIP, else ExternalIP, else Hostname (kube-apiserver's preferred address types). */
function nodeAddress(node: KubeObject): string {
  const addresses = (node.status as { addresses?: Array<{ type?: string; address?: string }> } | undefined)?.addresses ?? [];
  for (const type of ['InternalIP', 'ExternalIP', 'Hostname']) {
    const found = addresses.find((a) => a.type === type && a.address);
    if (found) return found.address!;
  }
  throw new StatusError('InternalError', `no preferred addresses found; known addresses: [${addresses.map((a) => `{${a.type} ${a.address}}`).join(' ')}]`);
}

function kubeletPort(node: KubeObject): number {
  const port = (node.status as { daemonEndpoints?: { kubeletEndpoint?: { Port?: number } } } | undefined)?.daemonEndpoints?.kubeletEndpoint?.Port;
  return typeof port === 'number' && port > 0 ? port : DEFAULT_KUBELET_PORT;
}

/** kube-apiserver's wording for a kubelet it cannot reach. */
export function dialError(err: unknown): StatusError {
  return new StatusError('InternalError', `error dialing backend: ${(err as Error)?.message ?? String(err)}`);
}

/** Dial the kubelet and finish the TLS handshake; failures become "error dialing backend" (500). */
export async function connectKubelet(options: KubeletProxyOptions, target: KubeletTarget): Promise<TLSSocket> {
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_KUBELET_CONNECT_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  let raw: Duplex | undefined;
  let socket: TLSSocket | undefined;
  let abandoned = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`dial ${target.nodeIp}:${target.port}: i/o timeout after ${timeoutMs} ms`)), timeoutMs);
  });
  const handshake = async (): Promise<TLSSocket> => {
    raw = await options.dial(target.nodeName, target.nodeIp, target.port);
    if (abandoned) {
      raw.destroy();
      throw new Error('abandoned');
    }
    const tls = tlsConnect({
      socket: raw,
      host: target.nodeIp,
      ...(isIP(target.nodeIp) ? {} : { servername: target.nodeIp }),
      cert: options.tls.cert,
      key: options.tls.key,
      ...(options.tls.ca ? { ca: options.tls.ca } : { rejectUnauthorized: false }),
    });
    socket = tls;
    await new Promise<void>((resolve, reject) => {
      tls.once('secureConnect', resolve);
      tls.once('error', reject);
      raw!.once('close', () => reject(new Error(`connection to ${target.nodeIp}:${target.port} closed during the TLS handshake`)));
    });
    return tls;
  };
  try {
    const tls = await Promise.race([handshake(), timeout]);
    tls.removeAllListeners('error');
    return tls;
  } catch (err) {
    abandoned = true;
    socket?.destroy();
    raw?.destroy();
    throw dialError(err);
  } finally {
    clearTimeout(timer);
  }
}
