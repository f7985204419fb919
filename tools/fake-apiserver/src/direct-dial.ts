// How kube-apiserver reaches a kubelet without an egress selector: TCP straight to `nodeIP:port`
// (where iptables DNAT may take it). Resolves once connected, so that a refusal is a dial error.
import { connect, type Socket } from 'node:net';

export function directDial(_nodeName: string, nodeIp: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: nodeIp, port, allowHalfOpen: true });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}
