#!/usr/bin/env node
// `fake-apiserver` as its own process (the netns testbed runs it in the cloud namespace): the store
// seeded from a file, the kubelet proxy dialling `nodeIP:kubeletPort` directly over TCP + TLS (where
// iptables DNAT may take the connection, as it does for kube-apiserver), a kubeconfig, a request log.
import { appendFileSync, readFileSync } from 'node:fs';
import { parseCli, USAGE, type CliOptions } from './cli-options.js';
import { directDial } from './direct-dial.js';
import { ErrorCode, FakeApiServerError } from './errors.js';
import { seedStore } from './seed.js';
import { startFakeApiServer, type FakeApiServerOptions } from './server.js';

function readText(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new FakeApiServerError(ErrorCode.BadOptions, `fake-apiserver: ${flag} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function kubeletOptions(o: CliOptions): FakeApiServerOptions['kubelet'] {
  if (!o.kubelet) return undefined;
  const tls = {
    cert: readText(o.kubelet.certFile, '--kubelet-client-cert'),
    key: readText(o.kubelet.keyFile, '--kubelet-client-key'),
    ca: o.kubelet.caFile === undefined ? undefined : readText(o.kubelet.caFile, '--kubelet-ca'),
  };
  return { tls, dial: directDial };
}

function jsonFile(path: string, flag: string): unknown {
  try {
    return JSON.parse(readText(path, flag));
  } catch (err) {
    if (err instanceof FakeApiServerError) throw err;
    throw new FakeApiServerError(ErrorCode.BadOptions, `fake-apiserver: ${flag} ${path}: not JSON: ${(err as Error).message}`);
  }
}

/** The --auth file: tokens and rules of the review endpoints (auth-reviews.ts). */
function authTable(path: string): NonNullable<FakeApiServerOptions['auth']> {
  const doc = jsonFile(path, '--auth') as { tokens?: unknown; rules?: unknown } | null;
  if (
    typeof doc !== 'object' ||
    doc === null ||
    Array.isArray(doc) ||
    (doc.tokens !== undefined && typeof doc.tokens !== 'object') ||
    (doc.rules !== undefined && !Array.isArray(doc.rules))
  ) {
    throw new FakeApiServerError(ErrorCode.BadOptions, `fake-apiserver: --auth ${path}: expected {"tokens": {…}, "rules": […]}`);
  }
  return doc as NonNullable<FakeApiServerOptions['auth']>;
}

async function main(): Promise<void> {
  const o = parseCli(process.argv.slice(2));
  if (o === 'help') return void console.log(USAGE);
  const log = o.requestLogFile;
  const api = await startFakeApiServer({
    host: o.host,
    port: o.port,
    kubelet: kubeletOptions(o),
    ...(o.authFile === undefined ? {} : { auth: authTable(o.authFile) }),
    onRequest: log === undefined ? undefined : (r) => appendFileSync(log, `${JSON.stringify(r)}\n`),
  });
  const objects = o.seedFile === undefined ? 0 : seedStore(api.store, jsonFile(o.seedFile, '--seed'), `--seed ${o.seedFile}`);
  if (o.kubeconfigFile !== undefined) api.kubeconfig(o.kubeconfigFile);
  console.log(
    JSON.stringify({ msg: 'fake apiserver listening', url: api.url, objects, kubeconfig: o.kubeconfigFile, kubeletProxy: o.kubelet ? 'direct' : 'off' }),
  );
  const stop = (): void => void api.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(err instanceof FakeApiServerError && err.code === ErrorCode.BadOptions ? 2 : 1);
});
