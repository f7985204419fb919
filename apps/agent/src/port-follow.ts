// The server's port config, as CONFIG frames bring it: applied to the allow-list at once (no
// restart), with one line per change saying what is now allowed and, at warn, which configured
// ports this agent's ceiling refuses and which flag to change.
import { parseAgentPortsMessage, portCeilingHello } from '@edge-tunnel/dnat';
import type { Logger } from 'pino';
import type { AllowList } from './allow-list.js';

/** Hello fields that tell the server this agent's ceiling (so /debug/tunnels and 403s can name it). */
export function ceilingHello(allowList: AllowList): Record<string, unknown> {
  const hello = portCeilingHello(allowList.ceiling);
  // an operator-written list is short; a pathological one is left out (the server then cannot pre-check)
  return hello.node.length + hello.localhost.length > 4_096 ? {} : { portCeiling: hello };
}

/** Handles one CONFIG message from a server session. */
export function onServerConfig(msg: Record<string, unknown>, allowList: AllowList, log: Logger): void {
  let ports;
  try {
    ports = parseAgentPortsMessage(msg);
  } catch (err) {
    log.warn({ code: 'BAD_PORT_CONFIG', reason: (err as Error).message }, 'server port config unreadable: keeping the last one');
    return;
  }
  if (ports === undefined) return log.debug({ kind: String(msg['kind']) }, 'server config of another kind: ignored');
  const previous = allowList.following;
  const f = allowList.follow(ports);
  const same =
    previous !== undefined &&
    previous.allowed.node.equals(f.allowed.node) &&
    previous.allowed.localhost.equals(f.allowed.localhost) &&
    previous.refused.node.equals(f.refused.node) &&
    previous.refused.localhost.equals(f.refused.localhost);
  if (same) return log.debug({ rev: f.rev }, 'server port config unchanged');
  log.info(
    { rev: f.rev, nodePorts: f.allowed.node.size, localhostPorts: f.allowed.localhost.size, allowed: allowList.describe() },
    'server port config applied',
  );
  if (f.refused.node.size > 0) {
    log.warn(
      {
        rev: f.rev,
        refusedPorts: clip(f.refused.node.toString()),
        ceiling: 'allow-ports',
        reason:
          "the server's port config opens node ports this agent's --allow-ports ceiling refuses: add them to --allow-ports (EDGE_TUNNEL_ALLOW_PORTS) on this node, unset it to follow the server, or remove them from the port config",
      },
      'configured ports refused by the agent ceiling',
    );
  }
  if (f.refused.localhost.size > 0) {
    log.warn(
      {
        rev: f.rev,
        refusedPorts: clip(f.refused.localhost.toString()),
        ceiling: 'localhost-ports',
        reason:
          "the server's localhost-proxy-ports name ports this agent's --localhost-ports ceiling refuses (none by default: 127.0.0.1 reaches more than the node's public services): add them to --localhost-ports (EDGE_TUNNEL_LOCALHOST_PORTS) on this node, or remove them from localhost-proxy-ports",
      },
      'configured ports refused by the agent ceiling',
    );
  }
}

const clip = (text: string): string => (text.length > 300 ? `${text.slice(0, 300)}…` : text);
