// TokenReview and SubjectAccessReview over HTTP: the token table, the allow rules, errors.
import t from 'tap';
import { ACCESS_REVIEW_PATH, TOKEN_REVIEW_PATH, ruleAllows, startFakeApiServer } from '../src/index.js';

const api = await startFakeApiServer({
  auth: {
    tokens: { 'tok-metrics': { username: 'system:serviceaccount:kube-system:metrics-server', groups: ['system:serviceaccounts'] } },
    rules: [{ users: ['system:serviceaccount:kube-system:metrics-server'], verbs: ['get'], resources: ['nodes/metrics', 'nodes/stats'] }],
  },
});
t.teardown(() => api.close());

async function post(path: string, body: unknown, method = 'POST'): Promise<{ status: number; json: any }> {
  const r = await fetch(`${api.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: method === 'GET' ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

const sar = (user: string, subresource: string, verb = 'get', groups: string[] = []): unknown => ({
  apiVersion: 'authorization.k8s.io/v1',
  kind: 'SubjectAccessReview',
  spec: { user, groups, resourceAttributes: { verb, resource: 'nodes', subresource, name: 'edge-1', version: 'v1' } },
});

t.test('TokenReview: a known token is its user (plus system:authenticated), an unknown one is not', async (t) => {
  const ok = await post(TOKEN_REVIEW_PATH, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'tok-metrics' } });
  t.equal(ok.status, 201);
  t.equal(ok.json.status.authenticated, true);
  t.equal(ok.json.status.user.username, 'system:serviceaccount:kube-system:metrics-server');
  t.same(ok.json.status.user.groups, ['system:serviceaccounts', 'system:authenticated']);
  const bad = await post(TOKEN_REVIEW_PATH, { spec: { token: 'nope' } });
  t.equal(bad.json.status.authenticated, false);
  t.equal(bad.json.status.error, 'invalid bearer token');
  api.auth.tokens['late'] = { username: 'late-user' };
  t.equal((await post(TOKEN_REVIEW_PATH, { spec: { token: 'late' } })).json.status.user.username, 'late-user', 'the table is live');
  t.equal((await post(TOKEN_REVIEW_PATH, { spec: {} })).status, 400, 'no token: 400');
  t.equal((await post(TOKEN_REVIEW_PATH, {}, 'GET')).status, 405);
});

t.test('SubjectAccessReview: rules by user, group, verb, resource/subresource, name', async (t) => {
  const ms = 'system:serviceaccount:kube-system:metrics-server';
  t.equal((await post(ACCESS_REVIEW_PATH, sar(ms, 'metrics'))).json.status.allowed, true);
  const denied = await post(ACCESS_REVIEW_PATH, sar(ms, 'proxy'));
  t.equal(denied.status, 201);
  t.equal(denied.json.status.allowed, false);
  t.match(denied.json.status.reason, /get nodes\/proxy "edge-1"/);
  t.equal((await post(ACCESS_REVIEW_PATH, sar(ms, 'metrics', 'create'))).json.status.allowed, false, 'verb must match');
  t.equal((await post(ACCESS_REVIEW_PATH, { spec: { resourceAttributes: {} } })).status, 400, 'no user or group');
  t.ok(
    ruleAllows({ groups: ['g'], verbs: ['*'], resources: ['nodes/*'] }, 'x', ['g'], { verb: 'create', resource: 'nodes', subresource: 'proxy' }),
    'group, * verb, nodes/*',
  );
  t.notOk(
    ruleAllows({ users: ['x'], verbs: ['get'], resources: ['nodes/proxy'], names: ['edge-2'] }, 'x', [], {
      verb: 'get',
      resource: 'nodes',
      subresource: 'proxy',
      name: 'edge-1',
    }),
    'names restrict',
  );
  t.notOk(
    ruleAllows({ users: ['x'], verbs: ['get'], resources: ['nodes'] }, 'x', [], { verb: 'get', resource: 'nodes', subresource: 'proxy' }),
    'nodes does not grant nodes/proxy',
  );
});
