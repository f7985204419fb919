#!/usr/bin/env node
/**
 * Runs one emulated kubelet by hand:
 *   node dist/main.js --node-name edge-1 --host 127.0.10.1 --cert server.crt --key server.key [--ca ca.crt]
 *     [--https-port 10250] [--http-port 10255] [--log-dir DIR] [--log-interval-ms 1000]
 *     [--pod ns/name:container,container]... [--verbose]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { PodSpec } from './options.js';
import { startKubelet } from './start.js';

const USAGE =
  'usage: kubelet-emulator --node-name NAME --host ADDR --cert FILE --key FILE [--ca FILE]\n' +
  '  [--https-port N] [--http-port N] [--log-dir DIR] [--log-interval-ms N] [--pod ns/name:c1,c2]... [--verbose]';

function parsePod(value: string): PodSpec {
  const m = /^(?:([^/]+)\/)?([^:]+):(.+)$/.exec(value);
  if (!m) throw new Error(`--pod ${value}: expected [namespace/]name:container[,container]`);
  return { namespace: m[1] ?? 'default', name: m[2]!, containers: m[3]!.split(',') };
}

function optionalInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, got ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'node-name': { type: 'string' },
      host: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      ca: { type: 'string' },
      'https-port': { type: 'string' },
      'http-port': { type: 'string' },
      'log-dir': { type: 'string' },
      'log-interval-ms': { type: 'string' },
      pod: { type: 'string', multiple: true },
      verbose: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return void console.log(USAGE);
  if (!values['node-name'] || !values.host || !values.cert || !values.key) throw new Error(USAGE);
  const kubelet = await startKubelet({
    nodeName: values['node-name'],
    host: values.host,
    httpsPort: optionalInt('https-port', values['https-port']),
    httpPort: optionalInt('http-port', values['http-port']),
    tls: {
      cert: readFileSync(values.cert, 'utf8'),
      key: readFileSync(values.key, 'utf8'),
      ca: values.ca === undefined ? undefined : readFileSync(values.ca, 'utf8'),
    },
    pods: values.pod?.map(parsePod),
    logDir: values['log-dir'],
    logLineIntervalMs: optionalInt('log-interval-ms', values['log-interval-ms']),
    onRequest: values.verbose ? (method, path, status) => console.log(JSON.stringify({ msg: 'request', method, path, status })) : undefined,
  });
  const { nodeName, httpsPort, httpPort, url, logDir } = kubelet;
  console.log(JSON.stringify({ msg: 'kubelet emulator listening', nodeName, httpsPort, httpPort, url, logDir }));
  const stop = (): void => void kubelet.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
