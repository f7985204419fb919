// The kubelet proxy against a stand-in kubelet (HTTPS with client-certificate checks) on loopback:
// log streaming and cancellation, kube-like errors, the upgrade relay, and the SPDY codec. The
// real-kubectl end to end runs live in tools/testbed/test/kubectl.test.ts.
import { connect } from 'node:net';
import t from 'tap';
import { HeaderZlib, SPDY_DICTIONARY, decodeHeaderBlock, encodeHeaderBlock } from '../src/kubelet-proxy-spdy.js';
import { TUNNELLED_SPDY_UNSUPPORTED } from '../src/kubelet-proxy-routes.js';
import { waitFor, withServer } from './fixtures/harness.js';
import { certs, fakeKubelet } from './fixtures/stand-in-kubelet.js';

t.test('kubelet proxy', async (t) => {
  const tls = certs(t.testdir());
  const kubelet = await fakeKubelet(t, tls);
  const dials: string[] = [];
  const api = await withServer(t, {
    kubelet: {
      tls: { ...tls, ca: tls.cert },
      dial: async (nodeName, nodeIp, port) => {
        dials.push(`${nodeName} ${nodeIp}:${port}`);
        if (nodeName === 'gone') throw new Error('CONNECT 10.9.9.9:10250: 503 Service Unavailable');
        return connect(port, nodeIp);
      },
    },
  });
  const node = (name: string, ip: string): void =>
    void api.store.put('nodes', {
      metadata: { name },
      status: { addresses: [{ type: 'InternalIP', address: ip }], daemonEndpoints: { kubeletEndpoint: { Port: kubelet.port } } },
    });
  node('edge-1', '127.0.0.1');
  node('gone', '10.9.9.9');
  const pod = (name: string, nodeName?: string): void =>
    void api.store.put('pods', {
      metadata: { name, namespace: 'default' },
      spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'app' }, { name: 'side' }] },
    });
  pod('demo', 'edge-1');
  pod('pending');
  pod('orphan', 'gone');

  t.test('pods/log streams from containerLogs with the kubelet-client certificate', async (t) => {
    const res = await fetch(`${api.url}/api/v1/namespaces/default/pods/demo/log?container=app&tailLines=2&timestamps=true&bogus=1`, {
      headers: { authorization: 'Bearer secret' },
    });
    t.equal(res.status, 200);
    t.equal(await res.text(), 'line 1\nline 2\n');
    t.match(kubelet.seen.at(-1), {
      path: '/containerLogs/default/demo/app?timestamps=true&tailLines=2',
      authorization: undefined,
      clientCn: 'kube-apiserver-kubelet-client',
    });
    t.equal(dials.at(-1), `edge-1 127.0.0.1:${kubelet.port}`, 'dialled the InternalIP and the published kubelet port');
  });

  t.test('follow: a client that goes away closes the kubelet response', async (t) => {
    const abort = new AbortController();
    const res = await fetch(`${api.url}/api/v1/namespaces/default/pods/demo/log?container=app&follow=true`, { signal: abort.signal });
    const reader = res.body!.getReader();
    t.match(Buffer.from((await reader.read()).value!).toString(), 'line 1', 'first bytes flushed before the stream ends');
    t.equal(kubelet.open(), 1);
    abort.abort();
    await waitFor(() => kubelet.open() === 0, 'the kubelet response to close', 1000);
  });

  t.test('errors as kube-apiserver words them', async (t) => {
    const get = async (path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await fetch(`${api.url}/api/v1/namespaces/default/pods/${path}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    t.match(await get('ghost/log'), { status: 404, body: { kind: 'Status', reason: 'NotFound', message: 'pods "ghost" not found' } });
    t.match(await get('demo/log?container=nope'), { status: 400, body: { reason: 'BadRequest', message: 'container nope is not valid for pod demo' } });
    t.match(await get('demo/log'), { status: 400, body: { message: 'a container name must be specified for pod demo, choose one of: [app side]' } });
    t.match(await get('pending/log?container=app'), { status: 400, body: { message: 'pod pending does not have a host assigned' } });
    t.match(await get('orphan/log?container=app'), {
      status: 500,
      body: { reason: 'InternalError', message: 'error dialing backend: CONNECT 10.9.9.9:10250: 503 Service Unavailable' },
    });
    t.match(await get('demo/exec?container=app&command=ls'), { status: 400, body: { message: 'Upgrade request required' } });
  });

  t.test('exec upgrade: the request is replayed for the kubelet path and bytes relayed after its 101', async (t) => {
    const { port } = new URL(api.url);
    const socket = connect(Number(port), '127.0.0.1');
    t.teardown(() => void socket.destroy());
    socket.write(
      [
        'GET /api/v1/namespaces/default/pods/demo/exec?command=sh&command=-c&command=echo+hi&container=app&stdout=true HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        'Connection: Upgrade',
        'Upgrade: websocket',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Protocol: v5.channel.k8s.io',
        'Authorization: Bearer secret',
        '',
        '',
      ].join('\r\n'),
    );
    let got = '';
    socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
    await waitFor(() => got.includes('\r\n\r\n'), 'the 101');
    t.match(got, /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*Sec-WebSocket-Protocol: v5\.channel\.k8s\.io\r\n/);
    socket.write('ping-bytes');
    await waitFor(() => got.endsWith('ping-bytes'), 'the echoed bytes');
    t.match(kubelet.seen.at(-1), { path: '/exec/default/demo/app?command=sh&command=-c&command=echo+hi&stdout=true', authorization: undefined });
  });

  t.test('port-forward: SPDY tunnelled in a WebSocket is refused so that kubectl falls back to SPDY', async (t) => {
    const res = await new Promise<string>((resolve) => {
      const socket = connect(Number(new URL(api.url).port), '127.0.0.1');
      let got = '';
      socket.on('data', (c: Buffer) => (got += c.toString()));
      socket.on('close', () => resolve(got));
      socket.write(
        'GET /api/v1/namespaces/default/pods/demo/portforward HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n\r\n',
      );
    });
    t.match(res, /^HTTP\/1\.1 400 BadRequest\r\n/);
    t.match(res, TUNNELLED_SPDY_UNSUPPORTED);
  });
});

t.test('SPDY/3 header compression', async (t) => {
  t.equal(SPDY_DICTIONARY.length, 1423, 'the draft-3 dictionary is 1423 bytes');
  const deflate = HeaderZlib.compressor();
  const inflate = HeaderZlib.decompressor();
  t.teardown(() => {
    deflate.close();
    inflate.close();
  });
  const first = await deflate.process(
    encodeHeaderBlock([
      ['streamType', 'error'],
      ['port', '8080'],
      ['requestID', '0'],
    ]),
  );
  t.equal(first.subarray(2, 6).toString('hex'), 'e3c6a7c2', 'zlib header names the dictionary by its Adler-32 (as Go computes it)');
  const second = await deflate.process(
    encodeHeaderBlock([
      ['streamtype', 'data'],
      ['port', '8080'],
      ['requestid', '0'],
    ]),
  );
  t.same(
    [...decodeHeaderBlock(await inflate.process(first))],
    [
      ['streamtype', 'error'],
      ['port', '8080'],
      ['requestid', '0'],
    ],
  );
  t.same(
    [...decodeHeaderBlock(await inflate.process(second))],
    [
      ['streamtype', 'data'],
      ['port', '8080'],
      ['requestid', '0'],
    ],
    'the second block continues the same zlib stream',
  );
});
