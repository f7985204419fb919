// Bearer-token callers: the kubelet's path → subresource and method → verb mapping, the decision
// caches (TTLs, bound, coalescing, failures not cached), and the authorizer's answers.
import type { IncomingMessage } from 'node:http';
import t from 'tap';
import { DecisionCache } from '../src/proxy/decision-cache.js';
import { cleanPath, nodeAttributes, subresourceOf, verbOf } from '../src/proxy/kubelet-attrs.js';
import { TokenAuthorizer, bearerToken, stripAuthorization } from '../src/proxy/token-auth.js';
import type { Reviews, TokenUser } from '../src/proxy/token-auth.js';
import { parseConfig } from '../src/config.js';

t.test('path → subresource as the kubelet maps it', async (t) => {
  const cases: Array<[string, string]> = [
    ['/stats/summary', 'stats'],
    ['/stats', 'stats'],
    ['/stats/', 'stats'],
    ['/statsx', 'proxy'],
    ['/metrics', 'metrics'],
    ['/metrics/cadvisor', 'metrics'],
    ['/metrics/resource?x=1', 'metrics'],
    ['/metricsfoo', 'proxy'],
    ['/logs/', 'log'],
    ['/logs/messages', 'log'],
    ['/spec/', 'spec'],
    ['/spec', 'spec'],
    ['/pods', 'proxy'],
    ['/run/default/demo/app', 'proxy'],
    ['/exec/default/demo/app?command=id', 'proxy'],
    ['/containerLogs/a/b/c', 'proxy'],
    ['/configz', 'proxy'],
    ['/', 'proxy'],
    // traversal: classified by the path the kubelet would route
    ['/metrics/../exec/default/demo/app', 'proxy'],
    ['/metrics/%2e%2e/run/default/demo/app', 'proxy'],
    ['/stats/..%2fpods', 'proxy'],
    ['/metrics%2f..%2f..%2fpods', 'proxy'],
    ['//metrics', 'metrics'],
    ['/pods/../metrics', 'metrics'],
    ['/%zz', 'proxy'],
    ['/metrics%00', 'proxy'],
  ];
  for (const [path, sub] of cases) t.equal(subresourceOf(path), sub, path);
  t.equal(subresourceOf('/metrics', 9100), 'proxy', 'another HTTPS port is nodes/proxy whatever the path');
  t.equal(cleanPath('/a/./b/../c?q'), '/a/c');
  t.equal(cleanPath('relative'), undefined);
});

t.test('method → verb', async (t) => {
  const cases: Array<[string | undefined, string]> = [
    ['GET', 'get'],
    ['HEAD', 'get'],
    ['POST', 'create'],
    ['PUT', 'update'],
    ['PATCH', 'patch'],
    ['DELETE', 'delete'],
    ['get', 'get'],
    ['OPTIONS', 'options'],
    [undefined, 'get'],
  ];
  for (const [m, v] of cases) t.equal(verbOf(m), v, String(m));
  t.same(nodeAttributes('POST', '/exec/default/demo/app', 10250, 'edge-1'), { verb: 'create', resource: 'nodes', subresource: 'proxy', name: 'edge-1' });
});

t.test('decision cache: positive and negative TTLs, bound, coalescing, failures not cached', async (t) => {
  let now = 0;
  const cache = new DecisionCache<boolean>({ positiveTtlMs: 100, negativeTtlMs: 10, maxEntries: 2, now: () => now });
  let asked = 0;
  const ask = (v: boolean) => async (): Promise<boolean> => {
    asked += 1;
    return v;
  };
  await cache.get('yes', ask(true), (v) => v);
  await cache.get('no', ask(false), (v) => v);
  now = 9;
  await cache.get('yes', ask(true), (v) => v);
  await cache.get('no', ask(false), (v) => v);
  t.equal(asked, 2, 'both cached within their TTL');
  now = 11;
  await cache.get('no', ask(false), (v) => v);
  await cache.get('yes', ask(true), (v) => v);
  t.equal(asked, 3, 'the negative answer expired, the positive one did not');
  await cache.get('third', ask(true), (v) => v);
  t.equal(cache.size, 2, 'bounded');
  await cache.get('yes', ask(true), (v) => v);
  t.equal(asked, 5, 'the oldest entry ("yes") was dropped for "third"');
  const slow = Promise.all([1, 2, 3].map(() => cache.get('c', ask(true), (v) => v)));
  await slow;
  t.equal(asked, 6, 'three concurrent asks, one review');
  await t.rejects(
    cache.get(
      'err',
      async () => {
        throw new Error('api down');
      },
      () => true,
    ),
  );
  let retried = false;
  await cache.get(
    'err',
    async () => {
      retried = true;
      return true;
    },
    () => true,
  );
  t.ok(retried, 'a failed review is not cached');
});

const user: TokenUser = { username: 'system:serviceaccount:monitoring:prometheus', groups: ['system:serviceaccounts'] };

t.test('authorizer: 401, 403 naming the permission, 503, cached reviews', async (t) => {
  const calls = { token: 0, access: 0 };
  let down = false;
  const reviews: Reviews = {
    async reviewToken(token) {
      calls.token += 1;
      if (down) throw new Error('connect ECONNREFUSED');
      return token === 'good' ? { authenticated: true, user } : { authenticated: false, error: 'invalid bearer token' };
    },
    async reviewAccess(_u, a) {
      calls.access += 1;
      return { allowed: a.subresource === 'metrics', reason: a.subresource === 'metrics' ? 'ok' : 'no rule' };
    },
  };
  const auth = new TokenAuthorizer(reviews, { tokenTtlMs: 1000, authorizedTtlMs: 1000, unauthorizedTtlMs: 1000, maxEntries: 10 });
  const bad = await auth.authenticate('bad');
  t.match(bad, { status: 401, reason: 'UNAUTHENTICATED', message: /invalid bearer token/ });
  const u = await auth.authenticate('good');
  t.same(u, user);
  await auth.authenticate('good');
  t.equal(calls.token, 2, 'the second "good" came from the cache');
  t.equal(await auth.authorize(user, nodeAttributes('GET', '/metrics', 10250, 'edge-1')), undefined, 'nodes/metrics allowed');
  const no = await auth.authorize(user, nodeAttributes('GET', '/pods', 10250, 'edge-1'));
  t.match(no, { status: 403, reason: 'TOKEN_NOT_ALLOWED', message: /may not get nodes\/proxy "edge-1".*no rule/ });
  await auth.authorize(user, nodeAttributes('GET', '/pods', 10250, 'edge-1'));
  t.equal(calls.access, 2, 'the denial was cached');
  await auth.authorize(user, nodeAttributes('GET', '/pods', 10250, 'edge-2'));
  t.equal(calls.access, 3, 'another node is another decision');
  down = true;
  t.match(await auth.authenticate('other'), { status: 503, reason: 'AUTH_REVIEW_FAILED', message: /ECONNREFUSED/ });
});

t.test('bearer token parsing; Authorization removed from headers and raw headers', async (t) => {
  const req = (authorization?: string): IncomingMessage =>
    ({
      headers: authorization === undefined ? {} : { authorization, host: 'h' },
      rawHeaders: authorization === undefined ? [] : ['Host', 'h', 'Authorization', authorization, 'authorization', 'dup'],
    }) as unknown as IncomingMessage;
  t.equal(bearerToken(req('Bearer abc.def')), 'abc.def');
  t.equal(bearerToken(req('bearer abc')), 'abc');
  t.equal(bearerToken(req('Basic dXNlcg==')), undefined);
  t.equal(bearerToken(req('Bearer ')), undefined);
  t.equal(bearerToken(req()), undefined);
  const r = req('Bearer x');
  stripAuthorization(r);
  t.same(r.headers, { host: 'h' });
  t.same(r.rawHeaders, ['Host', 'h']);
});

t.test('config: cache flags, defaults as the kubelet', async (t) => {
  const base = ['--cert', 'c', '--key', 'k', '--agent-ca', 'a', '--require-caller-cert=false'];
  const d = parseConfig(base);
  t.match(!d.help && d.config, { tokenCacheTtlMs: 120_000, authzCacheTtlMs: 300_000, authzNegativeCacheTtlMs: 30_000, authCacheEntries: 4096 });
  const e = parseConfig([...base, '--token-cache-ttl-ms=0', '--authz-negative-cache-ttl-ms', '5'], { EDGE_TUNNEL_AUTH_CACHE_ENTRIES: '7' });
  t.match(!e.help && e.config, { tokenCacheTtlMs: 0, authzNegativeCacheTtlMs: 5, authCacheEntries: 7 });
  t.throws(() => parseConfig([...base, '--auth-cache-entries=0']), /whole number/);
});
