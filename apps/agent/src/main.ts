#!/usr/bin/env node
// edge-tunnel-agent: parse flags and env, start the agent, drain on SIGTERM/SIGINT.
// Exit codes: 0 stopped by a signal after draining, 1 could not start, 2 bad flags.
import { pino } from 'pino';
import { parseConfig } from './config.js';
import { ConfigError } from './errors.js';
import { start } from './start.js';

async function main(): Promise<number | undefined> {
  let parsed;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`edge-tunnel-agent: ${err.message}\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(parsed.text);
    return 0;
  }
  const { config } = parsed;
  const logger = pino({ level: config.logLevel, base: { component: 'edge-tunnel-agent' } });
  let handle;
  try {
    handle = await start(config, logger);
  } catch (err) {
    logger.error({ err, reason: (err as Error).message }, 'agent could not start');
    return 1;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ reason: `second ${signal}` }, 'exiting without draining');
      process.exit(1);
    }
    stopping = true;
    logger.info({ reason: signal }, 'signal received');
    handle.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return undefined;
}

main().then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`edge-tunnel-agent: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
