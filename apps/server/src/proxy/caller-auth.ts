// Authorization of certificate callers on the HTTPS listener (:10263). A certificate that chains to
// --caller-ca is authenticated; it must also match --caller-allow (`name:<CN>` or `group:<O>`), and
// it must not be an edge node's identity: CN `system:node:*`, O `system:nodes` (every agent
// certificate libs/pki issues, by file or by CSR, carries it) or a CN that is a known edge node name.
// Those are refused even when listed, so one edge node's agent key never reaches another node.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { NodeTable } from '@edge-tunnel/dnat';
import type { Logger } from '../logger.js';
import type { ProxyContext } from './context.js';
import type { Failure } from './http-errors.js';
import { tunnelError } from './tunnel-errors.js';

export interface CallerRule {
  kind: 'name' | 'group';
  value: string;
}

/** kube-apiserver's kubelet-client identity (kubeadm's apiserver-kubelet-client certificate). */
export const DEFAULT_CALLER_ALLOW: readonly string[] = ['name:kube-apiserver-kubelet-client'];

/** Organization of Kubernetes node identities, which agent certificates carry. */
export const NODES_GROUP = 'system:nodes';
const NODE_USER_PREFIX = 'system:node:';

/** `name:<CN>` / `group:<O>` entries → rules; throws an Error naming the bad entry. */
export function parseCallerAllow(items: readonly string[]): CallerRule[] {
  const rules: CallerRule[] = [];
  for (const raw of items.flatMap((i) => i.split(','))) {
    const item = raw.trim();
    if (item === '') continue;
    const m = /^(name|group):(.+)$/.exec(item);
    if (!m) throw new Error(`--caller-allow entries are name:<CN> or group:<O>, got ${JSON.stringify(item)}`);
    const rule: CallerRule = { kind: m[1] as CallerRule['kind'], value: m[2]!.trim() };
    if (isNodeIdentity(rule.kind === 'name' ? rule.value : '', rule.kind === 'group' ? [rule.value] : [])) {
      throw new Error(`--caller-allow ${JSON.stringify(item)} names edge node identities, which may never act as callers`);
    }
    if (!rules.some((r) => r.kind === rule.kind && r.value === rule.value)) rules.push(rule);
  }
  return rules;
}

export function formatRule(r: CallerRule): string {
  return `${r.kind}:${r.value}`;
}

export interface CallerIdentity {
  commonName: string;
  organizations: string[];
}

function isNodeIdentity(cn: string, orgs: readonly string[]): boolean {
  return cn.startsWith(NODE_USER_PREFIX) || orgs.includes(NODES_GROUP);
}

/** undefined: allowed; otherwise the 403 to answer (the body names the rule, never other nodes). */
export function authorizeCaller(id: CallerIdentity, rules: readonly CallerRule[], isEdgeNode: (name: string) => boolean): Failure | undefined {
  const who = `caller certificate CN=${JSON.stringify(id.commonName)}${id.organizations.length ? ` O=${JSON.stringify(id.organizations.join(','))}` : ''}`;
  if (isNodeIdentity(id.commonName, id.organizations)) {
    return refused(`${who} is an edge node identity (CN system:node:* or O ${NODES_GROUP}); agent certificates never act as callers`);
  }
  if (isEdgeNode(id.commonName)) {
    return refused(`${who} is named like an edge node; node certificates never act as callers`);
  }
  const ok = rules.some((r) => (r.kind === 'name' ? r.value === id.commonName : id.organizations.includes(r.value)));
  if (ok) return undefined;
  return refused(`${who} matches no --caller-allow rule (${rules.map(formatRule).join(', ') || 'none'})`);
}

function refused(message: string): Failure {
  return { ...tunnelError('CALLER_NOT_ALLOWED'), message };
}

/**
 * The verified client certificate of each TLS connection, read once: getPeerCertificate() builds a
 * new object from the X.509 every call, and a keep-alive caller's requests asked it three times
 * each (gate, stream quota, audit). A connection keeps its certificate: renegotiation is refused.
 */
const identities = new WeakMap<object, Readonly<CallerIdentity>>();

/** The verified client certificate of a TLS request, or undefined (no certificate, or not verified). */
export function callerIdentityOf(req: IncomingMessage): Readonly<CallerIdentity> | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
  let id = identities.get(socket);
  if (id === undefined) {
    const subject = socket.getPeerCertificate().subject as Record<string, string | string[] | undefined> | undefined;
    const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
    id = Object.freeze({ commonName: list(subject?.['CN'])[0] ?? '', organizations: Object.freeze(list(subject?.['O'])) as string[] });
    identities.set(socket, id);
  }
  return id;
}

/**
 * What a request's verified client certificate decides: 'pass', or the 403 CALLER_NOT_ALLOWED to
 * answer (logged with what to fix); undefined when there is none (only with --require-caller-cert=false).
 */
export function certificateVerdict(
  req: IncomingMessage,
  rules: readonly CallerRule[],
  table: Pick<NodeTable<unknown>, 'get'>,
  log: Logger,
  listener: string,
): Failure | 'pass' | undefined {
  const id = callerIdentityOf(req);
  if (id === undefined) return undefined;
  const failure = authorizeCaller(id, rules, (name) => name !== '' && table.get(name) !== undefined);
  if (!failure) return 'pass';
  log.warn(
    { listener, caller: id.commonName, organizations: id.organizations, method: req.method, path: pathOf(req), reason: failure.reason, why: failure.message },
    'caller refused: add its name:<CN> or group:<O> to --caller-allow if it should reach kubelets (edge node identities never can)',
  );
  return failure;
}

/** A request whose verified client certificate is not allowed: its refusal (see certificateVerdict), else undefined. */
export function callerRefusal(
  ctx: Pick<ProxyContext, 'listener' | 'log' | 'registry'>,
  req: IncomingMessage,
  rules: readonly CallerRule[],
): Failure | undefined {
  const v = certificateVerdict(req, rules, ctx.registry.table, ctx.log, ctx.listener);
  return v === 'pass' ? undefined : v;
}

/** The request's path without its query (log lines). */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
