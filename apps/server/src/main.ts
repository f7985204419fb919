#!/usr/bin/env node
// edge-tunnel-server: parse flags and env, start, drain on SIGTERM/SIGINT.
import { parseConfig } from './config.js';
import { ServerError } from './errors.js';
import { createLogger } from './logger.js';
import { start } from './start.js';

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`edge-tunnel-server: ${(err as Error).message}\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(parsed.usage);
    return 0;
  }
  const logger = createLogger(parsed.config.logLevel);
  let handle;
  try {
    handle = await start(parsed.config, logger);
  } catch (err) {
    const code = err instanceof ServerError ? err.code : undefined;
    logger.fatal({ code, err: (err as Error).message }, 'server failed to start');
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await handle.close();
  return 0;
}

process.exitCode = await main();
