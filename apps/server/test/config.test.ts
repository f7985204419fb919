import t from 'tap';
import { ServerErrorCode, checkHello, envName, parseAddr, parseConfig, parseConfigText, usage } from '../src/index.js';
import type { ServerConfig } from '../src/index.js';
import { DEFAULT_MAX_STREAMS_PER_NODE, DEFAULT_RELAY_IDLE_TIMEOUT_MS } from '../src/proxy/context.js';
import { DEFAULT_PROXY_LIMITS } from '../src/proxy/listener.js';

const required = ['--cert', 'c.pem', '--key', 'k.pem', '--agent-ca', 'a.pem', '--caller-ca', 'ca.pem'];

function config(argv: string[], env: Record<string, string> = {}): ServerConfig {
  const r = parseConfig(argv, env);
  if (r.help) throw new Error('help');
  return r.config;
}

t.test('defaults', async (t) => {
  const c = config(required, { HOSTNAME: 'pod-1' });
  t.match(c, {
    agentAddr: { host: '', port: 10262 },
    httpsAddr: { host: '', port: 10263 },
    httpAddr: { host: '', port: 10264 },
    metaAddr: { host: '127.0.0.1', port: 10265 },
    requireCallerCert: true,
    verifyKubelet: false,
    compression: true,
    keepaliveIntervalMs: 10_000,
    keepaliveTimeoutMs: 30_000,
    drainTimeoutMs: 5_000,
    logLevel: 'info',
    serverId: 'pod-1',
  });
  t.equal(c.connectAddr, undefined);
  t.equal(c.configFile, undefined);
});

t.test('flags, = syntax, booleans and env fallbacks', async (t) => {
  const c = config(
    [
      ...required,
      '--http-addr=[::1]:0',
      '--require-caller-cert=false',
      '--verify-kubelet',
      '--kubelet-ca',
      'kca.pem',
      '--compression=false',
      '--connect-addr',
      ':8131',
      '--config',
      '/etc/ports.yaml',
      '--drain-timeout-ms',
      '250',
    ],
    {
      EDGE_TUNNEL_HTTP_ADDR: '1.2.3.4:1',
      EDGE_TUNNEL_LOG_LEVEL: 'debug',
      EDGE_TUNNEL_META_ADDR: '0.0.0.0:9999',
    },
  );
  t.same(c.httpAddr, { host: '::1', port: 0 }, 'flag wins over env');
  t.same(c.metaAddr, { host: '0.0.0.0', port: 9999 }, 'env wins over default');
  t.equal(c.logLevel, 'debug');
  t.equal(c.requireCallerCert, false);
  t.equal(c.verifyKubelet, true);
  t.equal(c.compression, false);
  t.same(c.connectAddr, { host: '', port: 8131 });
  t.equal(c.configFile, '/etc/ports.yaml');
  t.equal(c.drainTimeoutMs, 250);
  t.equal(envName('kubelet-client-cert'), 'EDGE_TUNNEL_KUBELET_CLIENT_CERT');
});

t.test('bad input is rejected with a sentence naming the flag', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /--cert is required/],
    [['--cert', 'c', '--key', 'k', '--agent-ca', 'a'], /--caller-ca is required while --require-caller-cert/],
    [[...required, '--bogus'], /unknown argument "--bogus"/],
    [[...required, '--http-addr', 'nope'], /--http-addr .* must be host:port/],
    [[...required, '--http-addr', ':70000'], /must be host:port/],
    [[...required, '--verify-kubelet'], /--verify-kubelet needs --kubelet-ca/],
    [[...required, '--kubelet-client-cert', 'x'], /go together/],
    [[...required, '--drain-timeout-ms', '-1'], /whole number of milliseconds/],
    [[...required, '--compression=maybe'], /true or false/],
    [[...required, '--log-level', 'loud'], /must be one of/],
    [[...required, '--keepalive-interval-ms', '5000', '--keepalive-timeout-ms', '1000'], /must not be shorter/],
    [[...required, '--key'], /--key needs a value/],
  ];
  for (const [argv, message] of cases) {
    t.throws(() => parseConfig(argv, {}), { code: ServerErrorCode.INVALID_CONFIG, message }, argv.join(' '));
  }
});

t.test('proxy limits: defaults are the named constants; flags and env override; bad values refused', async (t) => {
  t.match(config(required), {
    maxStreamsPerNode: DEFAULT_MAX_STREAMS_PER_NODE,
    relayIdleTimeoutMs: DEFAULT_RELAY_IDLE_TIMEOUT_MS,
    ...DEFAULT_PROXY_LIMITS,
  });
  t.same(DEFAULT_PROXY_LIMITS, { headersTimeoutMs: 10_000, requestTimeoutMs: 300_000, maxHeaderBytes: 16 * 1024, callerIdleTimeoutMs: 120_000 });
  t.match(config([...required, '--caller-idle-timeout-ms', '95000']), { callerIdleTimeoutMs: 95_000 });
  t.match(config(required, { EDGE_TUNNEL_CALLER_IDLE_TIMEOUT_MS: '180000' }), { callerIdleTimeoutMs: 180_000 });
  t.match(
    config([...required, '--max-streams-per-node', '8', '--headers-timeout-ms', '500', '--request-timeout-ms', '0', '--max-header-bytes=4096'], {
      EDGE_TUNNEL_RELAY_IDLE_TIMEOUT_MS: '60000',
    }),
    { maxStreamsPerNode: 8, headersTimeoutMs: 500, requestTimeoutMs: 0, maxHeaderBytes: 4096, relayIdleTimeoutMs: 60_000 },
  );
  const cases: Array<[string[], RegExp]> = [
    [['--max-streams-per-node', '0'], /--max-streams-per-node .* must be a whole number ≥ 1, got "0"/],
    [['--max-header-bytes', '1.5'], /--max-header-bytes .* must be a whole number ≥ 1/],
    [['--relay-idle-timeout-ms', '0'], /--relay-idle-timeout-ms .* milliseconds ≥ 1/],
    [['--headers-timeout-ms', '-5'], /--headers-timeout-ms .* milliseconds ≥ 1/],
    // 0 would be Node's "no idle limit": a caller could hold a connection forever
    [['--caller-idle-timeout-ms', '0'], /--caller-idle-timeout-ms .* milliseconds ≥ 1/],
    [['--caller-idle-timeout-ms', 'soon'], /--caller-idle-timeout-ms .* milliseconds ≥ 1/],
    [['--headers-timeout-ms', '20000', '--request-timeout-ms', '10000'], /--headers-timeout-ms must not be longer than --request-timeout-ms/],
  ];
  for (const [argv, message] of cases) {
    t.throws(() => parseConfig([...required, ...argv], {}), { code: ServerErrorCode.INVALID_CONFIG, message }, argv.join(' '));
  }
  const text = usage();
  for (const flag of ['max-streams-per-node', 'headers-timeout-ms', 'request-timeout-ms', 'max-header-bytes', 'relay-idle-timeout-ms']) {
    t.match(text, new RegExp(`--${flag} <value> .*\\(default \\d+\\)`), `--help shows --${flag} with its default`);
  }
});

t.test('--help lists every flag with its env variable and default', async (t) => {
  const r = parseConfig(['--help'], {});
  t.equal(r.help, true);
  const text = usage();
  for (const flag of [
    '--agent-addr',
    '--https-addr',
    '--http-addr',
    '--meta-addr',
    '--connect-addr',
    '--require-caller-cert',
    '--verify-kubelet',
    '--config',
    '--drain-timeout-ms',
    '--log-level',
  ]) {
    t.match(text, flag);
  }
  t.match(text, /EDGE_TUNNEL_AGENT_ADDR/);
  t.match(text, /default :10262/);
});

t.test('parseAddr', async (t) => {
  t.same(parseAddr(':10262', 'x'), { host: '', port: 10262 });
  t.same(parseAddr('127.0.0.1:0', 'x'), { host: '127.0.0.1', port: 0 });
  t.same(parseAddr('[fd00::1]:443', 'x'), { host: 'fd00::1', port: 443 });
  t.throws(() => parseAddr('10262', 'x'), { code: 'ERR_SERVER_INVALID_CONFIG' });
  t.throws(() => parseAddr('fd00::1:443', 'x'), { code: 'ERR_SERVER_INVALID_CONFIG' });
});

t.test('checkHello binds the hello to the certificate', async (t) => {
  const id = { commonName: 'edge-a', ips: ['10.0.0.5', 'fd00::5'] };
  t.match(checkHello({ version: 1, nodeName: 'EDGE-A', nodeIps: ['10.0.0.5', 'FD00:0::5'], agentVersion: '1.2' }, id), {
    ok: true,
    nodeName: 'edge-a',
    nodeIps: ['10.0.0.5', 'fd00::5'],
    agentVersion: '1.2',
  });
  t.match(checkHello({ version: 1, nodeName: 'edge-b', nodeIps: [] }, id), { ok: false, reason: /certificate names node edge-a but hello claims "edge-b"/ });
  t.match(checkHello({ version: 1, nodeName: 'edge-a', nodeIps: ['10.0.0.6'] }, id), { ok: false, reason: /does not list IP 10\.0\.0\.6/ });
  t.match(checkHello({ version: 2, nodeName: 'edge-a', nodeIps: [] }, id), { ok: false, reason: /unsupported hello version/ });
  t.match(checkHello({ version: 1, nodeName: 'edge-a', nodeIps: 'x' }, id), { ok: false, reason: /array/ });
  t.match(checkHello({ version: 1, nodeName: 'edge-a' }, { commonName: 'Not A Node', ips: [] }), { ok: false, reason: /not a node name/ });
});

t.test('config file text: flat keys, ConfigMap objects, JSON', async (t) => {
  t.same(parseConfigText("dnat-ports-pair: '9051=10264'\n"), { 'dnat-ports-pair': '9051=10264' });
  t.same(parseConfigText('kind: ConfigMap\ndata:\n  http-proxy-ports: "9100"\n'), { 'http-proxy-ports': '9100' });
  t.same(parseConfigText('{"https-proxy-ports": "9443"}'), { 'https-proxy-ports': '9443' });
  t.same(parseConfigText(''), {});
  t.throws(() => parseConfigText('- a\n- b\n'), /map of ConfigMap keys/);
  t.throws(() => parseConfigText('a: [unclosed'));
});

t.test('--verify-kubelet is on by default where a kubelet CA is known (issue 13)', async (t) => {
  t.equal(config([...required, '--kubelet-ca', 'kca.pem']).verifyKubelet, true, 'on with --kubelet-ca');
  t.equal(config([...required, '--kubelet-ca', 'kca.pem', '--verify-kubelet=false']).verifyKubelet, false, 'explicitly off');
  t.equal(config(required, { EDGE_TUNNEL_KUBELET_CA: 'kca.pem' }).verifyKubelet, true, 'env CA counts too');
  t.equal(config(required).verifyKubelet, false, 'off without a CA (nothing to verify against)');
  t.equal(config([...required, '--enrollments-configmap', 'my-records']).enrollmentsConfigMap, 'my-records');
  t.equal(config(required).enrollmentsConfigMap, 'edge-tunnel-enrollments');
});
