// The cluster objects the kubectl testbed serves: the edge nodes (Ready, InternalIP = the node IP the
// kubelet listens on) and the pods the kubelet emulator runs (default/demo with app and sidecar).
import { seedStore, type KubeObject, type ObjectStore, type SeedDocument } from '@edge-tunnel/fake-apiserver';

export interface SeedNode {
  name: string;
  ip: string;
}

/** Pods every emulated kubelet runs by default (kubelet-emulator's `pods` default). */
export const DEMO_POD = { namespace: 'default', name: 'demo', containers: ['app', 'sidecar'] } as const;

export function nodeObject(node: SeedNode): KubeObject {
  return {
    metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name, 'node-role.kubernetes.io/edge': '' } },
    status: {
      addresses: [
        { type: 'InternalIP', address: node.ip },
        { type: 'Hostname', address: node.name },
      ],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: { kubeletVersion: 'v1.32.0' },
    },
  };
}

export function podObject(nodeName: string, pod: { namespace: string; name: string; containers: readonly string[] } = DEMO_POD): KubeObject {
  const containers = pod.containers.map((name) => ({ name, image: 'busybox', stdin: true }));
  return {
    metadata: { name: pod.name, namespace: pod.namespace, labels: { app: pod.name } },
    spec: { nodeName, containers },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: pod.containers.map((name) => ({ name, ready: true, restartCount: 0, state: { running: {} } })),
    },
  };
}

/** The nodes, and the demo pod on the first node (the fake API server's `--seed` document). */
export function seedDocument(nodes: readonly SeedNode[]): SeedDocument {
  return { nodes: nodes.map(nodeObject), pods: nodes[0] ? [podObject(nodes[0].name)] : [] };
}

/** Put seedDocument(nodes) into an in-process API server's store. */
export function seedCluster(store: ObjectStore, nodes: readonly SeedNode[]): void {
  seedStore(store, seedDocument(nodes), 'kubectl testbed seed');
}
