// Argument parsing for edge-tunnel-pki. `run` never exits the process: it returns the exit status,
// so tests drive it in-process.
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { PkiError } from '@edge-tunnel/pki';
import { initPki, issueAgent, parseNodeSpec } from './commands.js';
import type { CommandResult } from './commands.js';
import { CliError, CliErrorCode } from './errors.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** Exit statuses. */
export const ExitCode = {
  /** Success, or --help. */
  OK: 0,
  /** The command failed (a PkiError, an existing CA, a file error). */
  FAILED: 1,
  /** Bad command line. */
  USAGE: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const USAGE = `Usage: edge-tunnel-pki <command> [options]

Commands:
  init    create a CA plus server, kubelet-client, caller and agent certificates
  agent   issue one more agent certificate from an existing CA

edge-tunnel-pki init --out DIR [options]
  --out DIR              directory to write into (created if missing)
  --server-dns NAME      extra DNS SAN for server.crt, repeatable
                         (always included: localhost, edge-tunnel-server)
  --server-ip IP         extra IP SAN for server.crt, repeatable (always included: 127.0.0.1)
  --node NAME=IP[,IP]    also write agent-NAME.crt/.key, repeatable
  --ca-name CN           CA common name (default edge-tunnel-ca)
  --days N               validity of the leaf certificates in days (default 365; CA: 3650)
  --force                replace an existing CA in DIR

edge-tunnel-pki agent --ca-dir DIR --node NAME=IP[,IP] [options]
  --ca-dir DIR           directory holding ca.crt and ca.key
  --node NAME=IP[,IP]    the node: its name (CN) and addresses (IP SANs)
  --out DIR              where to write agent-NAME.crt/.key (default: the --ca-dir)
  --days N               validity in days (default 365)
  --force                replace an existing agent-NAME.crt

  -h, --help             print this help
`;

const COMMON = {
  help: { type: 'boolean', short: 'h' },
  days: { type: 'string' },
  force: { type: 'boolean' },
  out: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const OPTIONS = {
  init: {
    ...COMMON,
    'server-dns': { type: 'string', multiple: true },
    'server-ip': { type: 'string', multiple: true },
    node: { type: 'string', multiple: true },
    'ca-name': { type: 'string' },
  },
  agent: { ...COMMON, 'ca-dir': { type: 'string' }, node: { type: 'string' } },
} as const satisfies Record<string, ParseArgsConfig['options']>;
type Command = keyof typeof OPTIONS;

function usage(message: string): CliError {
  return new CliError(CliErrorCode.USAGE, message);
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw usage(`${flag} is required`);
  return value;
}

function parseDays(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const days = Number(value);
  if (!/^\d+$/.test(value) || days <= 0) throw usage(`--days must be a positive whole number, got ${JSON.stringify(value)}`);
  return days;
}

function parse<C extends Command>(command: C, args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS[command], strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw usage((err as Error).message);
  }
}

async function dispatch(command: Command, args: string[]): Promise<CommandResult | 'help'> {
  if (command === 'init') {
    const v = parse('init', args);
    if (v.help) return 'help';
    return initPki({
      out: required(v.out, '--out'),
      serverDns: v['server-dns'] ?? [],
      serverIps: v['server-ip'] ?? [],
      nodes: (v.node ?? []).map(parseNodeSpec),
      caCommonName: v['ca-name'],
      validityDays: parseDays(v.days),
      force: v.force ?? false,
    });
  }
  const v = parse('agent', args);
  if (v.help) return 'help';
  return issueAgent({
    caDir: required(v['ca-dir'], '--ca-dir'),
    node: parseNodeSpec(required(v.node, '--node')),
    out: v.out,
    validityDays: parseDays(v.days),
    force: v.force ?? false,
  });
}

/** Runs the CLI with `argv` (without node and script) and returns the exit status. */
export async function run(argv: string[], io: CliIo): Promise<ExitCode> {
  const [command, ...args] = argv;
  if (command === '-h' || command === '--help' || command === 'help') {
    io.stdout(USAGE);
    return ExitCode.OK;
  }
  try {
    if (command !== 'init' && command !== 'agent') {
      throw usage(command === undefined ? 'a command is required' : `unknown command ${JSON.stringify(command)}`);
    }
    const result = await dispatch(command, args);
    if (result === 'help') {
      io.stdout(USAGE);
      return ExitCode.OK;
    }
    for (const file of result.files) io.stdout(`wrote ${file}\n`);
    return ExitCode.OK;
  } catch (err) {
    if (err instanceof CliError && err.code === CliErrorCode.USAGE) {
      io.stderr(`edge-tunnel-pki: ${err.message}\n\n${USAGE}`);
      return ExitCode.USAGE;
    }
    if (err instanceof CliError || err instanceof PkiError) {
      io.stderr(`edge-tunnel-pki: ${err.message} (${err.code})\n`);
      return ExitCode.FAILED;
    }
    io.stderr(`edge-tunnel-pki: unexpected error\n${(err as Error)?.stack ?? String(err)}\n`);
    return ExitCode.FAILED;
  }
}
