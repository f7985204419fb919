// Authentication and authorization of the HTTPS port as the real kubelet does them with
// `--anonymous-auth=false --authentication-token-webhook --authorization-mode=Webhook`
// (pkg/kubelet/server/auth.go): a client certificate verified against the client CA names the user
// (CN) and groups (O); else a bearer token is sent to the API server as a TokenReview; else 401.
// Then a SubjectAccessReview asks whether the user may `verb` `nodes/<subresource>` of this node;
// a denial is 403 with the kubelet's own sentence. Answers are not cached (the kubelet caches 2 min /
// 5 min / 30 s; tests want each decision to reach the API server).
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';

/** Where the webhooks go: the API server's base URL and, for https, its CA and a client identity. */
export interface KubeletWebhookOptions {
  /** e.g. http://127.0.0.1:6443 */
  apiServer: string;
  ca?: string;
  cert?: string;
  key?: string;
  /** the kubelet's own bearer token toward the API server */
  token?: string;
}

export interface KubeletUser {
  username: string;
  groups: string[];
}

/** What a request may do: a user, or the status and body it is refused with. */
export type AuthDecision = { ok: true; user: KubeletUser } | { ok: false; status: 401 | 403 | 500; body: string };

/** The SubjectAccessReview attributes of a kubelet request (the kubelet's NodeRequestAttributesGetter). */
export function requestAttributes(method: string, path: string, nodeName: string): { verb: string; resource: 'nodes'; subresource: string; name: string } {
  const verb =
    ({ GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[method] ?? method.toLowerCase();
  const first = path.split('/')[1] ?? '';
  const subresource =
    first === 'stats'
      ? 'stats'
      : first.startsWith('metrics')
        ? 'metrics'
        : first === 'logs'
          ? 'log'
          : first === 'spec'
            ? 'spec'
            : first === 'checkpoint'
              ? 'checkpoint'
              : 'proxy';
  return { verb, resource: 'nodes', subresource, name: nodeName };
}

/** Who the caller is, then whether it may; never throws (a webhook failure is a 500, as the kubelet answers). */
export async function authorize(req: IncomingMessage, nodeName: string, webhook: KubeletWebhookOptions): Promise<AuthDecision> {
  let user: KubeletUser | undefined;
  try {
    user = certificateUser(req) ?? (await tokenUser(req, webhook));
  } catch (err) {
    return { ok: false, status: 500, body: `Authentication failed: ${(err as Error).message}` };
  }
  if (user === undefined) return { ok: false, status: 401, body: 'Unauthorized' };
  const attrs = requestAttributes(req.method ?? 'GET', new URL(req.url ?? '/', 'http://kubelet').pathname, nodeName);
  try {
    const review = (await post(webhook, '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: user.username, groups: user.groups, resourceAttributes: attrs },
    })) as { status?: { allowed?: boolean } };
    if (review.status?.allowed === true) return { ok: true, user };
  } catch (err) {
    return {
      ok: false,
      status: 500,
      body: `Authorization error (user=${user.username}, verb=${attrs.verb}, resource=nodes, subresource=${attrs.subresource}): ${(err as Error).message}`,
    };
  }
  return { ok: false, status: 403, body: `Forbidden (user=${user.username}, verb=${attrs.verb}, resource=nodes, subresource=${attrs.subresource})` };
}

function certificateUser(req: IncomingMessage): KubeletUser | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
  const subject = socket.getPeerCertificate().subject as Record<string, string | string[]> | undefined;
  const cn = subject?.['CN'];
  if (typeof cn !== 'string' || cn === '') return undefined;
  const o = subject?.['O'];
  return { username: cn, groups: [...(Array.isArray(o) ? o : o ? [o] : []), 'system:authenticated'] };
}

async function tokenUser(req: IncomingMessage, webhook: KubeletWebhookOptions): Promise<KubeletUser | undefined> {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const review = (await post(webhook, '/apis/authentication.k8s.io/v1/tokenreviews', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    spec: { token: m[1] },
  })) as { status?: { authenticated?: boolean; user?: { username?: string; groups?: string[] } } };
  const u = review.status?.user;
  if (review.status?.authenticated !== true || typeof u?.username !== 'string') return undefined;
  return { username: u.username, groups: u.groups ?? [] };
}

function post(webhook: KubeletWebhookOptions, path: string, body: unknown): Promise<unknown> {
  const url = new URL(path, webhook.apiServer);
  const text = JSON.stringify(body);
  const headers = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(webhook.token ? { authorization: `Bearer ${webhook.token}` } : {}),
  };
  return new Promise((resolve, reject) => {
    const done = (res: IncomingMessage): void => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 300) return reject(new Error(`${url.pathname}: HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(data));
        } catch {
          reject(new Error(`${url.pathname}: not JSON`));
        }
      });
    };
    const req =
      url.protocol === 'https:'
        ? httpsRequest(url, { method: 'POST', headers, ca: webhook.ca, cert: webhook.cert, key: webhook.key, timeout: 10_000 }, done)
        : httpRequest(url, { method: 'POST', headers, timeout: 10_000 }, done);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(text);
  });
}
