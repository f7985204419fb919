// edge-tunnel: client → server CONNECT frontend → (one mTLS session, through the link when the
// scenario has one) → agent → sink. The sink port is a custom port: server config
// `http-proxy-ports`, agent `--allow-ports`. Both as real processes from the built dist/.
// The seed's own path (`reqs` only, on the same server and agent): `edge-tunnel-http`, a caller →
// the HTTP proxy (:10264) with a Host header naming the node's IP and the HTTP sink's port
// (`http-proxy-ports`) → agent → sink; `edge-tunnel-https`, a caller with the kube-apiserver client
// certificate → the HTTPS proxy (:10263), which terminates TLS and originates TLS to the HTTPS sink
// (`https-proxy-ports`).
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnProc } from '../procs.mjs';
import { stopAll, viaLink } from './util.mjs';

/** @typedef {Awaited<ReturnType<typeof startServer>>} Server a started edge-tunnel server: its process and ports */

let starts = 0; // every start logs to its own file, so a stale line is never matched

// PERF_NODE_IP: the node's loopback address (to keep parallel runs apart), default 127.0.50.1
export const NODE = { name: 'bench-node', ip: process.env.PERF_NODE_IP ?? '127.0.50.1' };
/** streams per node the server allows: the `idle` scenario's 10 000 (the default is 1 024) */
const SERVER_MAX_STREAMS_PER_NODE = 10_000;
/** streams the agent accepts per session: 10 000, so its 256 MiB receive budget is shared (≈ 26 KiB initial windows) */
export const AGENT_MAX_STREAMS = 10_000;
export const appMain = (/** @type {string} */ pkg) => join(dirname(fileURLToPath(import.meta.resolve(pkg))), 'main.js');

/**
 * @param {string} url
 * @returns {Promise<{ status: number, body: string } | undefined>}
 */
export function httpGet(url) {
  return new Promise((resolve) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      })
      .on('error', () => resolve(undefined));
  });
}

/** @param {string} what @param {() => Promise<boolean> | boolean} fn */
export async function waitUntil(what, fn, timeoutMs = 15_000, alive = () => true) {
  const until = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (!alive() || Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** PERF_SERVER_NODE_ARGS: Node / V8 flags of every server process (space-separated), e.g. `--max-semi-space-size=32` for an A/B against the shipped default */
const SERVER_NODE_ARGS = (process.env.PERF_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);

/**
 * Starts an edge-tunnel server; resolves with its bound addresses.
 * @param {import('./index.mjs').Env} env
 * @param {{ compression: boolean, tag: string, procs: import('./util.mjs').ProcEntry[], passthrough?: boolean, role?: string, measured?: boolean, extraArgs?: string[] }} opts
 */
export async function startServer(env, { compression, tag, procs, passthrough = false, role = 'server', measured = true, extraArgs = [] }) {
  const { certs } = env;
  // a directory of its own, as a mounted ConfigMap has: the server watches the file's directory, and
  // the logs written next to it cost an inotify event and a callback per audit line
  const configPath = join(mkdtempSync(join(env.tmp, `server-cfg-${tag}-`)), 'ports.yaml');
  const { httpSink } = env;
  const httpPorts = [env.sink.port, ...(httpSink ? [httpSink.httpPort] : [])].join(', ');
  writeFileSync(configPath, `http-proxy-ports: '${httpPorts}'\n${httpSink ? `https-proxy-ports: '${httpSink.httpsPort}'\n` : ''}`);
  const any = '127.0.0.1:0';
  const server = spawnProc(
    `server-${tag}`,
    appMain('@edge-tunnel/server'),
    [
      '--agent-addr',
      any,
      '--https-addr',
      any,
      '--http-addr',
      any,
      '--meta-addr',
      any,
      '--connect-addr',
      any,
      '--cert',
      certs.path('server', 'crt'),
      '--key',
      certs.path('server', 'key'),
      '--agent-ca',
      certs.path('ca', 'crt'),
      '--caller-ca',
      certs.path('ca', 'crt'),
      '--config',
      configPath,
      ...(passthrough
        ? ['--https-mode=passthrough']
        : ['--kubelet-client-cert', certs.path('kubelet-client', 'crt'), '--kubelet-client-key', certs.path('kubelet-client', 'key')]),
      `--compression=${compression}`,
      '--log-level',
      env.logLevel,
      '--max-streams-per-node',
      String(SERVER_MAX_STREAMS_PER_NODE),
      ...extraArgs,
    ],
    { node: true, logFile: join(env.tmp, `server-${tag}-${++starts}.log`), nodeArgs: SERVER_NODE_ARGS },
  );
  procs.push({ role, proc: server, measured });
  const m = await server.waitLine(/"msg":"server listening"/);
  const rec = JSON.parse(m.input);
  const port = (/** @type {string} */ a) => Number(String(a).split(':').pop());
  return {
    proc: server,
    agent: port(rec.agent),
    connect: port(rec.connect),
    meta: port(rec.meta),
    http: port(rec.http),
    https: port(rec.https),
    ...(rec.agentWs ? { agentWs: port(rec.agentWs) } : {}),
  };
}

/**
 * `edge-tunnel-https-passthrough`: :10263 of a second server in --https-mode=passthrough, with a second
 * agent for the same node (an agent follows one server), started by the `edge-tunnel` chain when this
 * chain is selected; the caller's TLS (SNI = the node name) reaches the HTTPS sink's 10250 listener.
 */
export const PASSTHROUGH_CHAIN = 'edge-tunnel-https-passthrough';
export const passthroughChain = () =>
  /** @type {import('./index.mjs').Chain} */ ({
    name: PASSTHROUGH_CHAIN,
    label: "edge-tunnel, HTTPS proxy :10263 in passthrough (SNI, the kubelet's TLS end to end)",
    kind: 'subject',
    entryOf: 'edge-tunnel',
    scenarios: [],
    start: async () => ({}),
    stop: async () => {},
  });

/** the chain names of the seed's path, by entry listener: measured on the `edge-tunnel` chain's server (entryChain) */
export const ENTRY_CHAINS = { http: 'edge-tunnel-http', https: 'edge-tunnel-https' };

/**
 * `edge-tunnel-http` / `edge-tunnel-https`: the :10264 and :10263 listeners of the `edge-tunnel` chain's
 * own server and agent, so `reqs` measures them against the CONNECT frontend on the same processes in
 * alternating rounds (and the run starts no extra processes). Never started on its own.
 */
/** @param {keyof ENTRY_CHAINS} entry @returns {import('./index.mjs').Chain} */
export function entryChain(entry) {
  const labels = { http: 'edge-tunnel, HTTP proxy :10264 (Host header)', https: 'edge-tunnel, HTTPS proxy :10263 (caller certificate, TLS originated)' };
  return {
    name: ENTRY_CHAINS[entry],
    label: labels[entry],
    kind: 'subject',
    entryOf: 'edge-tunnel',
    scenarios: [],
    start: async () => ({}),
    stop: async () => {},
  };
}

/** @param {import('./index.mjs').Env} env @param {{ compression: boolean }} opts @returns {import('./index.mjs').Chain} */
export function edgeTunnelChain(env, { compression }) {
  /** @type {import('./util.mjs').ProcEntry[]} */
  const procs = [];
  const tag = compression ? 'lz4' : 'plain';
  return {
    name: compression ? 'edge-tunnel+lz4' : 'edge-tunnel',
    label: compression ? 'edge-tunnel, compression on' : 'edge-tunnel, compression off',
    kind: 'subject',
    async start(opts = {}) {
      const server = await startServer(env, { compression, tag, procs });
      const wan = await viaLink(opts.link, '127.0.0.1', server.agent, procs);
      const agent = startAgent(env, { tag, wan, compression });
      procs.push({ role: 'agent', proc: agent, measured: true });
      await waitUntil(
        'the agent session',
        async () => {
          const res = await httpGet(`http://127.0.0.1:${server.meta}/debug/tunnels`);
          return res?.status === 200 && res.body.includes(`"${NODE.name}"`);
        },
        15_000,
        () => agent.alive() && server.proc.alive(),
      ).catch((err) => {
        throw new Error(`${err.message}\nserver: ${server.proc.lines.join('\n')}\nagent: ${agent.lines.join('\n')}`);
      });
      const endpoint = { host: '127.0.0.1', port: server.connect, connect: `${NODE.ip}:${env.sink.port}` };
      // a passthrough that cannot start loses its own row only (the reason on stderr)
      const pt =
        !compression && env.passthrough
          ? await startPassthrough(env, procs).catch(/** @returns {undefined} */ (err) => void process.stderr.write(`\n${PASSTHROUGH_CHAIN}: ${err.message}\n`))
          : undefined;
      return { endpoint, procs, server, reqs: { ...reqTargets(env, server), ...(pt ? passthroughTargets(env, pt) : {}) } };
    },
    stop: () => stopAll(procs),
  };
}

/** @param {import('./index.mjs').Env} env @param {{ tag: string, wan: { host: string, port: number }, compression: boolean }} opts */
function startAgent(env, { tag, wan, compression }) {
  const { certs } = env;
  return spawnProc(
    `agent-${tag}`,
    appMain('@edge-tunnel/agent'),
    [
      '--server',
      `${wan.host}:${wan.port}`,
      '--node-name',
      NODE.name,
      '--node-ip',
      NODE.ip,
      '--cert',
      certs.path(`agent-${NODE.name}`, 'crt'),
      '--key',
      certs.path(`agent-${NODE.name}`, 'key'),
      '--ca',
      certs.path('ca', 'crt'),
      '--meta-addr',
      `${NODE.ip}:0`,
      '--allow-ports',
      [env.sink.port, ...(env.httpSink ? [env.httpSink.httpPort, env.httpSink.httpsPort] : [])].join(','),
      '--compression',
      compression ? 'on' : 'off',
      '--log-level',
      env.logLevel,
      '--max-streams',
      String(AGENT_MAX_STREAMS),
    ],
    { node: true, logFile: join(env.tmp, `agent-${tag}-${starts}.log`) },
  );
}

/**
 * The passthrough server and its agent (not `measured`: their CPU is read per target, passthroughTargets).
 * @param {import('./index.mjs').Env} env @param {import('./util.mjs').ProcEntry[]} procs
 */
async function startPassthrough(env, procs) {
  if (!env.httpSink?.kubeletPort)
    throw new Error(`${PASSTHROUGH_CHAIN}: the HTTPS sink has no listener on ${NODE.ip}:10250 (${env.httpSink?.kubeletError ?? 'not started'})`);
  const server = await startServer(env, { compression: false, tag: 'pt', procs, passthrough: true, role: 'server-passthrough', measured: false });
  const agent = startAgent(env, { tag: 'pt', wan: { host: '127.0.0.1', port: server.agent }, compression: false });
  procs.push({ role: 'agent-passthrough', proc: agent, measured: false });
  await waitUntil(
    'the passthrough agent session',
    async () => {
      const res = await httpGet(`http://127.0.0.1:${server.meta}/debug/tunnels`);
      return res?.status === 200 && res.body.includes(`"${NODE.name}"`);
    },
    15_000,
    () => agent.alive() && server.proc.alive(),
  );
  return { server, agent };
}

/**
 * `reqs` to the passthrough server: the caller's TLS with SNI = the node name, verified against the kubelet CA.
 * @param {import('./index.mjs').Env} env @param {{ server: Server, agent: import('../procs.mjs').Proc }} pt
 */
function passthroughTargets(env, { server, agent }) {
  const caller = { cert: env.certs.pem('caller', 'crt'), key: env.certs.pem('caller', 'key') };
  return {
    [PASSTHROUGH_CHAIN]: {
      https: {
        host: '127.0.0.1',
        port: server.https,
        hostHeader: `${NODE.name}:10250`,
        tls: { ca: env.certs.caPem, ...caller, servername: NODE.name },
        pids: { server: server.proc.pid, agent: agent.pid },
      },
    },
  };
}

/**
 * Where `reqs` callers connect, per chain and protocol: the CONNECT frontend, :10264 and :10263 of this server.
 * @param {import('./index.mjs').Env} env @param {Server} server
 */
function reqTargets(env, server) {
  const sink = env.httpSink;
  if (!sink) return {};
  const http = `${NODE.ip}:${sink.httpPort}`;
  const https = `${NODE.ip}:${sink.httpsPort}`;
  const ca = env.certs.caPem;
  const caller = { cert: env.certs.pem('caller', 'crt'), key: env.certs.pem('caller', 'key') };
  return {
    // CONNECT: one CONNECT per caller connection, then keep-alive; HTTPS is the caller's TLS end to end
    'edge-tunnel': {
      http: { host: '127.0.0.1', port: server.connect, connect: http, hostHeader: http },
      https: { host: '127.0.0.1', port: server.connect, connect: https, hostHeader: https, tls: { ca } },
    },
    [ENTRY_CHAINS.http]: { http: { host: '127.0.0.1', port: server.http, hostHeader: http } },
    [ENTRY_CHAINS.https]: { https: { host: '127.0.0.1', port: server.https, hostHeader: https, tls: { ca, ...caller } } },
  };
}
