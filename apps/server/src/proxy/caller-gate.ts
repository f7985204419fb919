// Who may use the HTTPS listener (:10263), before anything is opened toward a node:
// - a verified client certificate: the --caller-allow rules (caller-auth.ts); a bearer token sent
//   along is not looked at (as the kubelet, whose x509 authenticator answers first);
// - no verified certificate, `Authorization: Bearer`: in cluster mode TokenReview, then (once the
//   node is known) a SubjectAccessReview with the kubelet's attributes (token-auth.ts); the header is
//   removed before the request goes on; standalone: 401 TOKEN_NOT_SUPPORTED;
// - neither (only with --require-caller-cert=false): 401 UNAUTHENTICATED in cluster mode, let
//   through standalone (the documented meaning of that flag there).
import type { IncomingMessage } from 'node:http';
import type { Dest, NodeTable } from '@edge-tunnel/dnat';
import type { Logger } from '../logger.js';
import { tokenUsers } from './audit.js';
import { certificateVerdict, pathOf } from './caller-auth.js';
import type { CallerRule } from './caller-auth.js';
import { isFailure } from './dest.js';
import type { Failure } from './http-errors.js';
import { formatAttributes, nodeAttributes } from './kubelet-attrs.js';
import { bearerToken, stripAuthorization } from './token-auth.js';
import type { TokenAuthorizer } from './token-auth.js';
import { tunnelError } from './tunnel-errors.js';

export interface CallerGateOptions {
  callerAllow: readonly CallerRule[];
  table: NodeTable<unknown>;
  log: Logger;
  /** cluster mode: bearer tokens are reviewed */
  tokens?: TokenAuthorizer;
}

type Verdict = { kind: 'pass' } | { kind: 'refused'; failure: Failure } | { kind: 'token'; token: string };

const PASS: Verdict = { kind: 'pass' };

export class CallerGate {
  readonly #o: CallerGateOptions;

  constructor(opts: CallerGateOptions) {
    this.#o = opts;
  }

  /** What the request's credentials decide before any review (synchronous). */
  #classify(req: IncomingMessage): Verdict {
    const { log, callerAllow, table } = this.#o;
    const cert = certificateVerdict(req, callerAllow, table, log, 'https');
    if (cert === 'pass') return PASS;
    if (cert !== undefined) return { kind: 'refused', failure: cert };
    const token = bearerToken(req);
    if (this.#o.tokens === undefined) {
      if (token === undefined) return PASS;
      return this.#refuse(req, {
        ...tunnelError('TOKEN_NOT_SUPPORTED'),
        message:
          'a bearer token without a client certificate: standalone servers cannot review tokens (no Kubernetes API); present a certificate from --caller-ca, or run in cluster mode (--kubeconfig / --kubernetes)',
      });
    }
    if (token === undefined) {
      return this.#refuse(req, {
        ...tunnelError('UNAUTHENTICATED'),
        message: 'neither a verified client certificate nor an Authorization: Bearer token; in cluster mode every :10263 caller authenticates',
      });
    }
    return { kind: 'token', token };
  }

  #refuse(req: IncomingMessage, failure: Failure, user?: string): Verdict {
    this.#o.log.warn(
      { listener: 'https', remoteAddress: req.socket.remoteAddress, user, method: req.method, path: pathOf(req), reason: failure.reason, why: failure.message },
      'token caller refused',
    );
    return { kind: 'refused', failure };
  }

  /** Standalone: the certificate rules and the bearer-token refusal. */
  refusal(req: IncomingMessage): Failure | undefined {
    const v = this.#classify(req);
    return v.kind === 'refused' ? v.failure : undefined;
  }

  /** Cluster mode: the destination (`resolve()`, e.g. a pod lookup) once the caller may go there, else the refusal. */
  async admit(req: IncomingMessage, resolve: () => Promise<Dest | Failure>): Promise<Dest | Failure> {
    const v = this.#classify(req);
    if (v.kind === 'refused') return v.failure;
    if (v.kind === 'pass') return resolve();
    const tokens = this.#o.tokens!;
    const user = await tokens.authenticate(v.token);
    if (isFailure(user)) return (this.#refuse(req, user) as { failure: Failure }).failure;
    tokenUsers.set(req, user.username);
    stripAuthorization(req);
    const dest = await resolve();
    if (isFailure(dest)) return dest;
    const node = this.#o.table.byIp(dest.host) ?? this.#o.table.get(dest.host.toLowerCase());
    // no such node: the forwarder answers the miss (the caller is authenticated)
    if (node === undefined) return dest;
    const attrs = nodeAttributes(req.method, req.url ?? '/', dest.port, node.name);
    const denied = await tokens.authorize(user, attrs);
    if (denied) return (this.#refuse(req, denied, user.username) as { failure: Failure }).failure;
    this.#o.log.debug(
      { listener: 'https', user: user.username, groups: user.groups, nodeName: node.name, permission: formatAttributes(attrs) },
      'token caller authorized',
    );
    return dest;
  }
}
