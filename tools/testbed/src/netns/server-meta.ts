// The server's meta endpoints, read from the cloud: tunnels attached, port config loaded, and (netns
// mode) the server's own iptables capture applied — /debug/tunnels, /debug/config, /debug/capture.
import { isDeepStrictEqual } from 'node:util';
import { planRules } from '@edge-tunnel/capture';
import { parsePortConfig, portConfigToJSON } from '@edge-tunnel/dnat';
import type { ExecResult } from './exec.js';
import { SERVER_PORTS } from './options.js';
import { waitFor } from './processes.js';

/** What /debug/capture shows (the fields the testbed reads). */
export interface ServerCaptureStatus {
  mode: 'iptables' | 'dns' | 'none';
  ok?: boolean;
  /** a node table or config change waits for the debounce */
  pending?: boolean;
  nodeIps?: string[];
  ports?: number[];
  applies?: number;
  lastError?: { code: string; message: string };
}

export interface ServerMeta {
  /** GET a meta path as JSON; undefined while the server does not answer */
  get<T>(path: string): Promise<T | undefined>;
  /** resolves once /debug/tunnels lists every given node as connected */
  waitForTunnels(names: readonly string[], timeoutMs: number): Promise<void>;
  /** resolves once /debug/config shows `data` and, with capture, /debug/capture has applied its ports for every edge */
  waitForPortConfig(data: Record<string, string>, timeoutMs: number): Promise<void>;
}

export interface ServerMetaOptions {
  /** runs curl in the cloud */
  curl(args: readonly string[], timeoutMs: number): Promise<ExecResult>;
  metaUrl: string;
  /** netns mode: the server captures these edge IPs, landing on its listeners at serverAddress */
  capture?: { serverAddress: string; edgeIps: readonly string[] };
}

export function serverMeta(o: ServerMetaOptions): ServerMeta {
  const get = async <T>(path: string): Promise<T | undefined> => {
    const res = await o.curl(['-sf', '-m', '1', `${o.metaUrl}${path}`], 3_000);
    return res.code === 0 ? (JSON.parse(res.stdout) as T) : undefined;
  };
  const capturedPorts = (data: Record<string, string>, serverAddress: string): readonly number[] =>
    planRules({
      nodeIps: [],
      config: parsePortConfig(data).config,
      httpsTarget: { ip: serverAddress, port: SERVER_PORTS.https },
      httpTarget: { ip: serverAddress, port: SERVER_PORTS.http },
    }).ports;
  return {
    get,
    waitForTunnels: (names, timeoutMs) =>
      waitFor(
        `tunnels of ${names.join(', ')}`,
        async () => {
          const nodes = (await get<{ nodes: Array<{ nodeName: string; connected: boolean }> }>('/debug/tunnels'))?.nodes ?? [];
          return names.every((n) => nodes.some((u) => u.nodeName === n && u.connected));
        },
        timeoutMs,
        200,
      ),
    async waitForPortConfig(data, timeoutMs) {
      const config = JSON.parse(JSON.stringify(portConfigToJSON(parsePortConfig(data).config))) as unknown;
      const ports = o.capture && capturedPorts(data, o.capture.serverAddress);
      let capture: ServerCaptureStatus | undefined;
      const applied = async (): Promise<boolean> => {
        if (!isDeepStrictEqual((await get<{ config: unknown }>('/debug/config'))?.config, config)) return false;
        if (o.capture === undefined) return true;
        capture = await get<ServerCaptureStatus>('/debug/capture');
        return (
          capture?.ok === true &&
          capture.pending === false &&
          isDeepStrictEqual(capture.ports, ports) &&
          o.capture.edgeIps.every((ip) => capture?.nodeIps?.includes(ip))
        );
      };
      try {
        await waitFor(`the server to load and capture the port config ${JSON.stringify(data)}`, applied, timeoutMs, 100);
      } catch (err) {
        throw new Error(`${(err as Error).message} (last /debug/capture: ${JSON.stringify(capture)})`);
      }
    },
  };
}
