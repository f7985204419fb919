import { createHash } from 'node:crypto';
import type { ResolvedPodSpec } from './options.js';

export interface Pod {
  namespace: string;
  name: string;
  uid: string;
  containers: string[];
  labels: Record<string, string>;
  startTime: Date;
}

/** The image every emulated container claims to run. */
const IMAGE = 'registry.local/edge-tunnel/emulated:latest';

/** A stable UUID-shaped uid, so the same pod keeps its uid across restarts of the emulator. */
export function podUid(nodeName: string, namespace: string, name: string): string {
  const hex = createHash('sha256').update(`${nodeName}/${namespace}/${name}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The pods a node runs; fixed at start. */
export class PodStore {
  readonly #pods: Pod[];

  constructor(
    readonly nodeName: string,
    readonly hostIp: string,
    specs: ResolvedPodSpec[],
  ) {
    const startTime = new Date();
    this.#pods = specs.map((spec) => ({
      ...spec,
      uid: podUid(nodeName, spec.namespace, spec.name),
      startTime,
    }));
  }

  list(): readonly Pod[] {
    return this.#pods;
  }

  find(namespace: string, name: string): Pod | undefined {
    return this.#pods.find((p) => p.namespace === namespace && p.name === name);
  }

  containerCount(): number {
    return this.#pods.reduce((n, p) => n + p.containers.length, 0);
  }

  /**
   * Resolves ns/pod/container, or returns the kubelet's 404 sentence for what is missing.
   */
  lookup(namespace: string, name: string, container?: string): Pod | string {
    const pod = this.find(namespace, name);
    if (!pod) return `pod "${name}" does not exist`;
    if (container !== undefined && !pod.containers.includes(container)) {
      return `container "${container}" not found in pod "${name}"`;
    }
    return pod;
  }

  /** The `/pods` body: a v1 PodList. */
  podList(): object {
    return { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: this.#pods.map((p) => this.#podJson(p)) };
  }

  #podJson(pod: Pod): object {
    const started = pod.startTime.toISOString().replace(/\.\d+Z$/, 'Z');
    return {
      metadata: {
        name: pod.name,
        namespace: pod.namespace,
        uid: pod.uid,
        creationTimestamp: started,
        labels: pod.labels,
      },
      spec: {
        nodeName: this.nodeName,
        containers: pod.containers.map((name) => ({ name, image: IMAGE })),
      },
      status: {
        phase: 'Running',
        hostIP: this.hostIp,
        podIP: this.hostIp,
        startTime: started,
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: pod.containers.map((name) => ({
          name,
          ready: true,
          started: true,
          restartCount: 0,
          image: IMAGE,
          imageID: IMAGE,
          containerID: `emulated://${pod.uid}/${name}`,
          state: { running: { startedAt: started } },
        })),
      },
    };
  }
}
