// Which session a node keeps when a second agent attaches for it: the newcomer replaces the live
// session only with a certificate issued at or after the live one's (notBefore; the same certificate
// reconnecting is equal). An older certificate — stolen, or enrolled before the node was re-enrolled —
// is refused and the live session stays.
import type { AgentSession } from './registry.js';

/** The refusal sentence when `newcomer` may not replace `live`, else undefined. */
export function replacementRefusal(live: AgentSession | undefined, newcomer: AgentSession): string | undefined {
  if (live === undefined || live.certNotBefore === undefined || newcomer.certNotBefore === undefined) return undefined;
  if (newcomer.certNotBefore >= live.certNotBefore) return undefined;
  return (
    `node ${newcomer.nodeName} has a live session with a newer certificate (serial ${live.certSerial ?? '?'}, issued ${new Date(live.certNotBefore).toISOString()}) ` +
    `than this one (serial ${newcomer.certSerial ?? '?'}, issued ${new Date(newcomer.certNotBefore).toISOString()}); only a certificate issued at or after the live one's replaces it`
  );
}
