// The agent's other ways out (issue 18), each its own server and agent, compression off as
// `edge-tunnel`: `edge-tunnel-ws` (the session as a WebSocket to --agent-ws-addr), and both through
// Debian's tinyproxy as an HTTP CONNECT proxy (`edge-tunnel-proxy`: TLS inside the CONNECT tunnel;
// `edge-tunnel-ws-proxy`: wss:// inside it). The link, when a scenario has one, sits between the agent
// (or the proxy) and the server. Client → server CONNECT frontend → session → agent → sink, as the
// `edge-tunnel` chain, so the two compare hop for hop.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnProc } from '../procs.mjs';
import { AGENT_MAX_STREAMS, NODE, appMain, httpGet, startServer, waitUntil } from './edge-tunnel.mjs';
import { freePort, stopAll, viaLink, waitForPort } from './util.mjs';

/** the scenarios these chains run: throughput, fairness, RTT (the paired `transports` scenario compares them with `edge-tunnel`) */
export const TRANSPORT_SCENARIOS = ['bulk1', 'multi16', 'multi256', 'rtt'];
export const TRANSPORT_CHAINS = { ws: 'edge-tunnel-ws', proxy: 'edge-tunnel-proxy', wsProxy: 'edge-tunnel-ws-proxy' };

export function tinyproxyMissing() {
  return spawnSync('tinyproxy', ['-v']).status === 0 ? undefined : 'tinyproxy not installed (apt-get install tinyproxy)';
}

let starts = 0;

/**
 * @param {import('./index.mjs').Env} env @param {{ transport: 'tls' | 'websocket', proxy: boolean }} opts
 * @returns {import('./index.mjs').Chain}
 */
export function transportChain(env, { transport, proxy }) {
  /** @type {import('./util.mjs').ProcEntry[]} */
  const procs = [];
  const ws = transport === 'websocket';
  const name = ws ? (proxy ? TRANSPORT_CHAINS.wsProxy : TRANSPORT_CHAINS.ws) : TRANSPORT_CHAINS.proxy;
  const tag = name.replace('edge-tunnel-', '');
  return {
    name,
    label: `edge-tunnel, ${ws ? 'WebSocket transport' : 'TLS transport'}${proxy ? ' through tinyproxy (CONNECT)' : ''}, compression off`,
    kind: 'subject',
    scenarios: TRANSPORT_SCENARIOS,
    async start(opts = {}) {
      const server = await startServer(env, { compression: false, tag, procs, extraArgs: ws ? ['--agent-ws-addr', '127.0.0.1:0'] : [] });
      const wan = await viaLink(opts.link, '127.0.0.1', ws ? server.agentWs : server.agent, procs);
      const via = proxy ? ['--proxy', `http://127.0.0.1:${await startTinyproxy(env, tag, procs)}`] : [];
      const dial = ws ? ['--transport', 'websocket', '--ws-url', `wss://127.0.0.1:${wan.port}/edge-tunnel/v1/session`] : [];
      const { certs } = env;
      const agentLog = join(env.tmp, `agent-${tag}-${++starts}.log`);
      const agent = spawnProc(
        `agent-${tag}`,
        appMain('@edge-tunnel/agent'),
        [
          '--server',
          `127.0.0.1:${ws ? server.agent : wan.port}`,
          ...dial,
          ...via,
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
          'off',
          '--log-level',
          env.logLevel,
          '--max-streams',
          String(AGENT_MAX_STREAMS),
        ],
        { node: true, logFile: agentLog },
      );
      procs.push({ role: 'agent', proc: agent, measured: true });
      await waitUntil(
        'the agent session',
        async () => {
          const res = await httpGet(`http://127.0.0.1:${server.meta}/debug/tunnels`);
          const node = res?.status === 200 ? JSON.parse(res.body).nodes?.find((/** @type {{ nodeName: string }} */ n) => n.nodeName === NODE.name) : undefined;
          return node?.connected === true && node.transport === (ws ? 'websocket' : 'tls');
        },
        15_000,
        () => agent.alive() && server.proc.alive(),
      ).catch((err) => {
        throw new Error(`${err.message}\nagent: ${readFileSync(agentLog, 'utf8').split('\n').slice(-8).join('\n')}`);
      });
      return { endpoint: { host: '127.0.0.1', port: server.connect, connect: `${NODE.ip}:${env.sink.port}` }, procs, server };
    },
    stop: () => stopAll(procs),
  };
}

/**
 * tinyproxy on 127.0.0.1 with its own config, in the foreground (-d); resolves with its port.
 * @param {import('./index.mjs').Env} env @param {string} tag @param {import('./util.mjs').ProcEntry[]} procs
 */
async function startTinyproxy(env, tag, procs) {
  const dir = mkdtempSync(join(env.tmp, `tinyproxy-${tag}-`));
  const port = await freePort();
  // LogLevel Warning: tinyproxy logs each CONNECT at Connect/Info, which would be the bench's own cost
  writeFileSync(
    join(dir, 'tinyproxy.conf'),
    [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 600',
      'LogLevel Warning',
      `LogFile "${join(dir, 'tinyproxy.log')}"`,
      'MaxClients 100',
      'Allow 127.0.0.1',
      '',
    ].join('\n'),
  );
  const proc = spawnProc(`tinyproxy-${tag}`, 'tinyproxy', ['-d', '-c', join(dir, 'tinyproxy.conf')]);
  procs.push({ role: 'proxy', proc, measured: false });
  await waitForPort('127.0.0.1', port, 10_000, () => proc.alive());
  return port;
}
