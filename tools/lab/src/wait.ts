// Polling helpers for process start-up.
import { get } from 'node:http';

/** GETs a URL; resolves with status and body, or undefined when nothing answers. */
export function httpGet(url: string, timeoutMs = 1_000): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** Polls until `check` returns true, or throws after `timeoutMs` naming `what`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`lab: timed out after ${timeoutMs} ms waiting for ${what}`);
}
