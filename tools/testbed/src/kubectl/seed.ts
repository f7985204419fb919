// The cluster objects the kubectl testbed serves: the lab's nodes (Ready, InternalIP = the node's
// loopback IP) and the pods the kubelet emulator runs (default/demo with app and sidecar).
import type { KubeObject, ObjectStore } from '@edge-tunnel/fake-apiserver';

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
      addresses: [{ type: 'InternalIP', address: node.ip }, { type: 'Hostname', address: node.name }],
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

/** Put the nodes, and the demo pod on the first node. */
export function seedCluster(store: ObjectStore, nodes: readonly SeedNode[]): void {
  for (const node of nodes) store.put('nodes', nodeObject(node));
  if (nodes[0]) store.put('pods', podObject(nodes[0].name));
}
