// Pure units: kubelet-path, backoff, errors.
import t from 'tap';
import { Backoff, cancellableSleep } from '../src/backoff.js';
import { KubeError, KubeErrorCode, apiError, describeApiError, httpStatusOf, isConflict, isNotFound } from '../src/errors.js';
import { parseKubeletPath } from '../src/kubelet-path.js';

t.test('kubelet-path', async (t) => {
  t.test('pod paths of every verb', async (t) => {
    const table: Array<[string, object]> = [
      ['/containerLogs/default/web-1/nginx', { verb: 'containerLogs', namespace: 'default', pod: 'web-1', container: 'nginx' }],
      ['/containerLogs/default/web-1/nginx?follow=true&tailLines=10', { verb: 'containerLogs', namespace: 'default', pod: 'web-1', container: 'nginx' }],
      ['/exec/kube-system/coredns-5d78c9869d-abcde/coredns', { verb: 'exec', namespace: 'kube-system', pod: 'coredns-5d78c9869d-abcde', container: 'coredns' }],
      ['/exec/ns/p/0b9a1d1e-uid/c?command=ls', { verb: 'exec', namespace: 'ns', pod: 'p', uid: '0b9a1d1e-uid', container: 'c' }],
      ['/attach/ns/p/c', { verb: 'attach', namespace: 'ns', pod: 'p', container: 'c' }],
      ['/attach/ns/p/uid-1/c', { verb: 'attach', namespace: 'ns', pod: 'p', uid: 'uid-1', container: 'c' }],
      ['/portForward/ns/p', { verb: 'portForward', namespace: 'ns', pod: 'p' }],
      ['/portForward/ns/p/uid-1', { verb: 'portForward', namespace: 'ns', pod: 'p', uid: 'uid-1' }],
      ['/portForward/ns/p?port=8080', { verb: 'portForward', namespace: 'ns', pod: 'p' }],
      ['/run/ns/p/c', { verb: 'run', namespace: 'ns', pod: 'p', container: 'c' }],
      ['/run/ns/p/uid/c', { verb: 'run', namespace: 'ns', pod: 'p', uid: 'uid', container: 'c' }],
      ['/exec/ns/p.with.dots/c', { verb: 'exec', namespace: 'ns', pod: 'p.with.dots', container: 'c' }],
      ['/exec/ns/p/c/', { verb: 'exec', namespace: 'ns', pod: 'p', container: 'c' }],
      ['/exec/ns/p/c#frag', { verb: 'exec', namespace: 'ns', pod: 'p', container: 'c' }],
      ['/exec/n%73/p/c', { verb: 'exec', namespace: 'ns', pod: 'p', container: 'c' }],
    ];
    for (const [path, want] of table) t.same(parseKubeletPath(path), want, path);
  });

  t.test('everything else is undefined', async (t) => {
    const bad = [
      '',
      'exec/ns/p/c',
      '/',
      '/exec',
      '/exec/ns',
      '/exec/ns/p',
      '/exec/ns/p/uid/c/extra',
      '/containerLogs/ns/p',
      '/containerLogs/ns/p/uid/c',
      '/portForward/ns',
      '/portForward/ns/p/uid/x',
      '/run/ns/p',
      '/attach/ns/p',
      '/metrics',
      '/metrics/cadvisor',
      '/pods',
      '/stats/summary',
      '/logs/',
      '/healthz',
      '/Exec/ns/p/c',
      '/exec/NS/p/c',
      '/exec/ns/P/c',
      '/exec/ns//c',
      '/exec//p/c',
      '/exec/../p/c',
      '/exec/ns/../c',
      '/exec/-ns/p/c',
      '/exec/ns/p-/c',
      `/exec/${'a'.repeat(64)}/p/c`,
      `/exec/ns/${'a'.repeat(254)}/c`,
      '/exec/ns/%zz/c',
      '/exec/ns/p%2Fq/c',
      '/constructor/ns/p/c',
      '/__proto__/ns/p/c',
      '/hasOwnProperty/ns/p/c',
    ];
    for (const path of bad) t.equal(parseKubeletPath(path), undefined, JSON.stringify(path));
    t.equal(parseKubeletPath(undefined as unknown as string), undefined);
    t.same(parseKubeletPath(`/exec/${'a'.repeat(63)}/p/c`)?.namespace, 'a'.repeat(63));
  });
});

t.test('backoff and errors', async (t) => {
  t.test('delays double up to the cap, with bounded jitter, and reset', async (t) => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    t.same([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000]);
    t.equal(b.attempts, 6);
    b.reset();
    t.equal(b.next(), 100);
    const j = new Backoff({ initialMs: 1000, maxMs: 100_000, jitter: 0.2 });
    for (let i = 0; i < 200; i++) {
      j.reset();
      const d = j.next();
      t.ok(d >= 800 && d <= 1200, `${d} within ±20 %`);
    }
    const capped = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5 });
    for (let i = 0; i < 50; i++) t.ok(capped.next() <= 1000, 'never above the cap');
    const defaults = new Backoff();
    const first = defaults.next();
    t.ok(first >= 400 && first <= 600, 'default 500 ms ±20 %');
  });

  t.test('cancellableSleep resolves early on cancel', async (t) => {
    const started = Date.now();
    const s = cancellableSleep(10_000);
    setTimeout(() => s.cancel(), 20);
    await s.promise;
    t.ok(Date.now() - started < 1000);
    await cancellableSleep(5).promise;
  });

  t.test('errors: stable codes and API error helpers', async (t) => {
    t.same(Object.values(KubeErrorCode).sort(), [
      'ERR_KUBE_API',
      'ERR_KUBE_CA_SECRET',
      'ERR_KUBE_CONFIG',
      'ERR_KUBE_ENROLL_ALREADY_ENROLLED',
      'ERR_KUBE_ENROLL_BAD_CSR',
      'ERR_KUBE_ENROLL_BAD_TOKEN',
      'ERR_KUBE_ENROLL_NOT_EDGE_NODE',
      'ERR_KUBE_ENROLL_SIGN_FAILED',
      'ERR_KUBE_ENROLL_TOKEN_EXPIRED',
      'ERR_KUBE_ENROLL_TOKEN_NOT_FOR_NODE',
      'ERR_KUBE_ENROLL_TOKEN_USED_UP',
      'ERR_KUBE_ENROLL_UNKNOWN_NODE',
      'ERR_KUBE_INVALID_OPTIONS',
    ]);
    const cause = new Error('x');
    const e = new KubeError(KubeErrorCode.API, 'm', { cause });
    t.equal(e.name, 'KubeError');
    t.equal(e.cause, cause);
    t.ok(e instanceof Error);
    const api404 = Object.assign(new Error('HTTP-Code: 404'), { code: 404, body: '{"kind":"Status","message":"pods \\"x\\" not found"}' });
    t.equal(httpStatusOf(api404), 404);
    t.ok(isNotFound(api404));
    t.notOk(isConflict(api404));
    t.ok(isConflict({ statusCode: 409 }));
    t.equal(httpStatusOf(null), undefined);
    t.equal(httpStatusOf({ code: 'ECONNREFUSED' }), undefined);
    t.equal(describeApiError(api404), '404: pods "x" not found');
    t.equal(describeApiError({ code: 500, body: 'plain text' }), '500: plain text');
    t.equal(describeApiError({ code: 422, body: { message: 'invalid' } }), '422: invalid');
    t.equal(describeApiError(new Error('fetch failed')), 'fetch failed');
    t.equal(describeApiError('str'), 'str');
    const wrapped = apiError('read Pod a/b', api404);
    t.equal(wrapped.code, 'ERR_KUBE_API');
    t.equal(wrapped.message, 'read Pod a/b failed: 404: pods "x" not found');
    t.equal(wrapped.cause, api404);
  });
});
