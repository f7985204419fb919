// The two commands as functions: everything is issued in memory first, then written, so a bad
// --node leaves no half-written directory behind.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import {
  SERVER_COMMON_NAME,
  checkIssueOptions,
  createCa,
  issueAgentCert,
  issueCallerCert,
  issueKubeletClientCert,
  issueServerCert,
  readPemFiles,
  writePemFiles,
} from '@edge-tunnel/pki';
import type { PemPair } from '@edge-tunnel/pki';
import { CliError, CliErrorCode } from './errors.js';

/** A node to issue an agent certificate for: its name (CN) and addresses (IP SANs). */
export interface NodeSpec {
  name: string;
  ips: string[];
}

export interface InitOptions {
  /** Directory to write into; created if missing. */
  out: string;
  /** Extra DNS SANs for server.crt, added to DEFAULT_SERVER_DNS. */
  serverDns?: string[];
  /** Extra IP SANs for server.crt, added to DEFAULT_SERVER_IPS. */
  serverIps?: string[];
  /** One agent-<name>.crt/.key per node. */
  nodes?: NodeSpec[];
  /** Replace an existing CA in `out`. Default false. */
  force?: boolean;
  /** Default `edge-tunnel-ca`. */
  caCommonName?: string;
  /** Validity of the leaf certificates; default 365 (the CA always gets 3650). */
  validityDays?: number;
}

export interface IssueAgentOptions {
  /** Directory holding ca.crt and ca.key. */
  caDir: string;
  node: NodeSpec;
  /** Default: caDir. */
  out?: string;
  /** Replace an existing agent-<name>.crt. Default false. */
  force?: boolean;
  validityDays?: number;
}

export interface CommandResult {
  /** Paths written, in order (certificate, then key). */
  files: string[];
}

export const DEFAULT_SERVER_DNS = ['localhost', 'edge-tunnel-server'] as const;
export const DEFAULT_SERVER_IPS = ['127.0.0.1'] as const;
export const DEFAULT_CA_COMMON_NAME = 'edge-tunnel-ca';

/** Parses `name=ip[,ip]`. */
export function parseNodeSpec(text: string): NodeSpec {
  const eq = text.indexOf('=');
  const name = text.slice(0, eq);
  const ips = text
    .slice(eq + 1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (eq <= 0 || ips.length === 0) {
    throw new CliError(CliErrorCode.USAGE, `--node must look like name=ip[,ip], got ${JSON.stringify(text)}`);
  }
  return { name, ips };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function refuseExisting(paths: string[], force: boolean | undefined, what: string): Promise<void> {
  if (force) return;
  for (const path of paths) {
    if (await exists(path)) throw new CliError(CliErrorCode.EXISTS, `${path} already exists; pass --force to replace ${what}`);
  }
}

async function writeAll(dir: string, bundles: [string, PemPair][]): Promise<CommandResult> {
  const files: string[] = [];
  for (const [name, pem] of bundles) {
    const { certPath, keyPath } = await writePemFiles(dir, name, pem);
    files.push(certPath, ...(keyPath ? [keyPath] : []));
  }
  return { files };
}

/** `init`: CA, server, kubelet-client, caller and one agent certificate per node. */
export async function initPki(opts: InitOptions): Promise<CommandResult> {
  const nodes = opts.nodes ?? [];
  const dup = nodes.find((n, i) => nodes.findIndex((m) => m.name === n.name) !== i);
  if (dup) throw new CliError(CliErrorCode.USAGE, `node ${JSON.stringify(dup.name)} is given twice`);
  const leaf = { validityDays: opts.validityDays };
  const serverNames = {
    dnsNames: [...DEFAULT_SERVER_DNS, ...(opts.serverDns ?? [])],
    ips: [...DEFAULT_SERVER_IPS, ...(opts.serverIps ?? [])],
  };
  // Reject bad names and addresses before any key is generated.
  checkIssueOptions({ ...leaf, ...serverNames, profile: 'server', commonName: SERVER_COMMON_NAME });
  for (const n of nodes) checkIssueOptions({ ...leaf, profile: 'agent', commonName: n.name, ips: n.ips });
  await refuseExisting([join(opts.out, 'ca.crt'), join(opts.out, 'ca.key')], opts.force, 'the CA');

  const ca = await createCa({ commonName: opts.caCommonName ?? DEFAULT_CA_COMMON_NAME });
  const [server, kubeletClient, caller, ...agents] = await Promise.all([
    issueServerCert(ca, { ...leaf, ...serverNames }),
    issueKubeletClientCert(ca, leaf),
    issueCallerCert(ca, undefined, leaf),
    ...nodes.map((n) => issueAgentCert(ca, n.name, n.ips, leaf)),
  ]);
  return writeAll(opts.out, [
    ['ca', ca],
    ['server', server!],
    ['kubelet-client', kubeletClient!],
    ['caller', caller!],
    ...agents.map((a, i): [string, PemPair] => [`agent-${nodes[i]!.name}`, a]),
  ]);
}

/** `agent`: one more agent certificate from the CA in `caDir`. */
export async function issueAgent(opts: IssueAgentOptions): Promise<CommandResult> {
  const out = opts.out ?? opts.caDir;
  const name = `agent-${opts.node.name}`;
  await refuseExisting([join(out, `${name}.crt`)], opts.force, `the certificate of node ${opts.node.name}`);
  const ca = await readPemFiles(opts.caDir, 'ca');
  const agent = await issueAgentCert(ca, opts.node.name, opts.node.ips, { validityDays: opts.validityDays });
  return writeAll(out, [[name, agent]]);
}
