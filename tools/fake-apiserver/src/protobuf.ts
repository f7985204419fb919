import { StatusError, badRequest } from './errors.js';

/**
 * Request bodies in `application/vnd.kubernetes.protobuf`, as kubectl's typed clients send them
 * (`kubectl create secret|configmap|namespace`): the 4-byte magic `k8s\0`, then a runtime.Unknown
 * {1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType} whose `raw`
 * is the object's own message. Only the kinds below are decoded (into the JSON shape the rest of
 * the server stores); any other kind is a 415 naming it.
 */
export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** One field of a message: how to decode it and where it goes in the JSON object. */
type FieldKind = 'string' | 'bytes' | 'bool' | 'int' | 'stringMap' | 'bytesMap' | 'strings' | 'meta';
type Schema = Record<number, [name: string, kind: FieldKind]>;

const OBJECT_META: Schema = {
  1: ['name', 'string'],
  2: ['generateName', 'string'],
  3: ['namespace', 'string'],
  5: ['uid', 'string'],
  6: ['resourceVersion', 'string'],
  7: ['generation', 'int'],
  11: ['labels', 'stringMap'],
  12: ['annotations', 'stringMap'],
  14: ['finalizers', 'strings'],
};

/** Kind → message schema (k8s.io/api/core/v1/generated.proto field numbers). */
const KINDS: Record<string, Schema> = {
  Secret: { 1: ['metadata', 'meta'], 2: ['data', 'bytesMap'], 3: ['type', 'string'], 4: ['stringData', 'stringMap'], 5: ['immutable', 'bool'] },
  ConfigMap: { 1: ['metadata', 'meta'], 2: ['data', 'stringMap'], 3: ['binaryData', 'bytesMap'], 4: ['immutable', 'bool'] },
  Namespace: { 1: ['metadata', 'meta'] },
};

/** Whether a Content-Type header names the Kubernetes protobuf encoding. */
export function isProtobuf(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === PROTOBUF_MEDIA_TYPE;
}

/** Decode a protobuf request body into `{apiVersion, kind, metadata, ...}`. */
export function decodeKubeProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw badRequest('the protobuf body does not start with the k8s\\0 envelope');
  let apiVersion = '';
  let kind = '';
  let raw: Buffer | undefined;
  for (const [field, , value] of fields(body.subarray(4))) {
    if (field === 1 && Buffer.isBuffer(value)) {
      for (const [f, , v] of fields(value)) {
        if (f === 1 && Buffer.isBuffer(v)) apiVersion = v.toString('utf8');
        if (f === 2 && Buffer.isBuffer(v)) kind = v.toString('utf8');
      }
    }
    if (field === 2 && Buffer.isBuffer(value)) raw = value;
  }
  const schema = KINDS[kind];
  if (!schema) {
    throw new StatusError(
      'UnsupportedMediaType',
      `the fake apiserver decodes protobuf bodies of ${Object.keys(KINDS).join(', ')} only, not ${kind || 'an untyped body'}: send application/json`,
    );
  }
  return { apiVersion, kind, ...message(raw ?? Buffer.alloc(0), schema) };
}

function message(buf: Buffer, schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, wire, value] of fields(buf)) {
    const def = schema[field];
    if (!def) continue;
    const [name, kind] = def;
    if (kind === 'int' || kind === 'bool') {
      if (typeof value !== 'bigint') throw badRequest(`protobuf field ${name}: wire type ${wire} where a varint belongs`);
      out[name] = kind === 'bool' ? value !== 0n : Number(value);
      continue;
    }
    if (!Buffer.isBuffer(value)) throw badRequest(`protobuf field ${name}: wire type ${wire} where bytes belong`);
    // Go's protobuf writes empty strings; JSON (omitempty) leaves them out, so this does too.
    if (kind === 'string') {
      if (value.length > 0) out[name] = value.toString('utf8');
    } else if (kind === 'bytes') out[name] = value.toString('base64');
    else if (kind === 'strings') out[name] = [...((out[name] as string[] | undefined) ?? []), value.toString('utf8')];
    else if (kind === 'meta') out[name] = message(value, OBJECT_META);
    else {
      const [key, entry] = mapEntry(value);
      const map = (out[name] as Record<string, string> | undefined) ?? {};
      map[key] = kind === 'bytesMap' ? entry.toString('base64') : entry.toString('utf8');
      out[name] = map;
    }
  }
  return out;
}

/** A map entry is a message {1: key, 2: value}. */
function mapEntry(buf: Buffer): [string, Buffer] {
  let key = '';
  let value: Buffer = Buffer.alloc(0);
  for (const [field, , v] of fields(buf)) {
    if (field === 1 && Buffer.isBuffer(v)) key = v.toString('utf8');
    if (field === 2 && Buffer.isBuffer(v)) value = v;
  }
  return [key, value];
}

/** The fields of one message: [number, wire type, varint value or length-delimited bytes]. */
function* fields(buf: Buffer): Generator<[number, number, bigint | Buffer | undefined]> {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= buf.length) throw badRequest('truncated protobuf body (varint)');
      const byte = buf[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
    throw badRequest('malformed protobuf varint');
  };
  while (pos < buf.length) {
    const tag = varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) yield [field, wire, varint()];
    else if (wire === 2) {
      const len = Number(varint());
      if (pos + len > buf.length) throw badRequest('truncated protobuf body (length-delimited field)');
      yield [field, wire, buf.subarray(pos, pos + len)];
      pos += len;
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
      if (pos > buf.length) throw badRequest('truncated protobuf body (fixed field)');
      yield [field, wire, undefined];
    } else throw badRequest(`unsupported protobuf wire type ${wire}`);
  }
}
