// Every chain the bench compares, in table order. Each: { name, label, kind, start(opts) →
// { endpoint, procs }, stop() }; the client reaches the sink through `endpoint` (client.mjs).
import { directChain } from './direct.mjs';
import { edgeTunnelChain, entryChain, passthroughChain } from './edge-tunnel.mjs';
import { tinyproxyMissing, transportChain } from './edge-tunnel-transports.mjs';
import { nodeRelayChain } from './node-relay.mjs';
import { sshChain, sshUnavailable } from './ssh.mjs';

export function allChains(env) {
  const ssh = sshUnavailable();
  const noProxy = tinyproxyMissing();
  const chains = [
    directChain(env),
    nodeRelayChain(env, 'tls'),
    nodeRelayChain(env, 'h2'),
    ...(ssh ? [] : [sshChain(env)]),
    nodeRelayChain(env, 'yamux'),
    nodeRelayChain(env, 'floor'),
    edgeTunnelChain(env, { compression: false }),
    edgeTunnelChain(env, { compression: true }),
    entryChain('http'),
    entryChain('https'),
    passthroughChain(),
    transportChain(env, { transport: 'websocket', proxy: false }),
    ...(noProxy ? [] : [transportChain(env, { transport: 'tls', proxy: true }), transportChain(env, { transport: 'websocket', proxy: true })]),
  ];
  const notes = [...(ssh ? [`OpenSSH chain skipped: ${ssh}`] : []), ...(noProxy ? [`proxy chains skipped: ${noProxy}`] : [])];
  return { chains, notes, extra: { sshCompressed: ssh ? undefined : sshChain(env, { compress: true }) } };
}
