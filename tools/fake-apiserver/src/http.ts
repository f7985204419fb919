import type { IncomingMessage, ServerResponse } from 'node:http';
import { StatusError, badRequest } from './errors.js';
import { PROTOBUF_MEDIA_TYPE, decodeKubeProtobuf, isProtobuf } from './protobuf.js';

/** Largest request body accepted (kube-apiserver's limit is 3 MiB for most objects). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Send a JSON document with `status`. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Send a StatusError as a v1 Status; anything else becomes a 500 InternalError. */
export function sendError(res: ServerResponse, err: unknown): void {
  const status = err instanceof StatusError ? err : new StatusError('InternalError', `fake-apiserver: ${String((err as Error)?.message ?? err)}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status.httpCode, status.toStatus());
}

/** Read the whole body as text, refusing more than MAX_BODY_BYTES. */
export async function readBody(req: IncomingMessage): Promise<string> {
  return (await readBodyBytes(req)).toString('utf8');
}

/** Read the whole body as bytes, refusing more than MAX_BODY_BYTES. */
export async function readBodyBytes(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new StatusError('RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** An object body in JSON or (for the kinds protobuf.ts knows) Kubernetes protobuf; anything else is a 415. */
export async function readObjectBody(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (isProtobuf(type)) return decodeKubeProtobuf(await readBodyBytes(req));
  if (type === 'application/json' || type === '*/*' || type === '') return parseJson(await readBody(req));
  throw new StatusError(
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json, ${PROTOBUF_MEDIA_TYPE}`,
  );
}

/** Parse a JSON request body; malformed JSON is a 400 with the parser's message. */
export function parseJson(text: string): unknown {
  if (text.trim() === '') throw badRequest('the request body is empty');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the body of the request could not be decoded as JSON: ${(err as Error).message}`);
  }
}

/** Query parameters as a plain record (the last value wins for repeated keys). */
export function queryRecord(params: URLSearchParams): Record<string, string> {
  return Object.fromEntries(params.entries());
}

/** The Table version the client accepts (`v1` or `v1beta1` of meta.k8s.io), if it asked for one. */
export function acceptsTable(req: IncomingMessage): string | undefined {
  const accept = req.headers.accept ?? '';
  const offers = accept.split(',').filter((o) => /;\s*as=Table/.test(o) && /;\s*g=meta\.k8s\.io/.test(o));
  if (offers.some((o) => /;\s*v=v1(\s*;|\s*$)/.test(o))) return 'v1';
  if (offers.some((o) => /;\s*v=v1beta1/.test(o))) return 'v1beta1';
  return undefined;
}
