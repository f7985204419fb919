// The table of edge nodes: name → IPs and the live agent session; IP → node.
import { DnatError, DnatErrorCode } from './errors.js';
import { normalizeIp, normalizeNodeName, requireIp, requireNodeName } from './ip.js';

/** A snapshot of one node (frozen; later table changes do not show in it). */
export interface NodeInfo<S> {
  /** canonical (lower-case) node name */
  readonly name: string;
  /** canonical IPs in the order given; the first is the target when the node is addressed by name */
  readonly ips: readonly string[];
  /** the live agent session, if any */
  readonly session: S | undefined;
}

interface Entry<S> {
  ips: readonly string[];
  session: S | undefined;
}

/**
 * Nodes by name and by IP, generic over the session type `S`. Names are matched case-insensitively
 * (stored lower-case); IPs are stored canonical (IPv6 without brackets, lower-case, compressed). An IP
 * belongs to one node: when a second node claims it (upsert or attach with ips), the later claim wins
 * and the older node loses that IP. Writes validate everything before changing anything and throw
 * `ERR_DNAT_INVALID_NODE_NAME` / `ERR_DNAT_INVALID_IP`; lookups with bad input just find nothing.
 */
export class NodeTable<S> {
  readonly #nodes = new Map<string, Entry<S>>();
  readonly #byIp = new Map<string, string>();

  /** Number of known nodes. */
  get size(): number {
    return this.#nodes.size;
  }

  /** Create the node or replace its IPs (its session is kept). */
  upsertNode(name: string, ips: readonly string[]): NodeInfo<S> {
    const key = requireNodeName(name);
    const canonical = checkIps(key, ips);
    const entry = this.#entry(key);
    this.#setIps(key, entry, canonical);
    return snapshot(key, entry);
  }

  /** Forget the node (and its IPs and session reference); false if it was unknown. */
  removeNode(name: string): boolean {
    const key = normalizeNodeName(name);
    const entry = key === undefined ? undefined : this.#nodes.get(key);
    if (key === undefined || entry === undefined) return false;
    for (const ip of entry.ips) this.#byIp.delete(ip);
    return this.#nodes.delete(key);
  }

  /**
   * Make `session` the node's live session, creating the node if unknown and replacing its IPs when
   * `ips` is given. Returns the session it replaces (undefined if none, or if it was the same one).
   */
  attach(name: string, session: S, ips?: readonly string[]): S | undefined {
    if (session === undefined || session === null) {
      throw new DnatError(DnatErrorCode.INVALID_SESSION, `cannot attach an empty session to node ${name}`);
    }
    const key = requireNodeName(name);
    const canonical = ips === undefined ? undefined : checkIps(key, ips);
    const entry = this.#entry(key);
    if (canonical !== undefined) this.#setIps(key, entry, canonical);
    const previous = entry.session;
    entry.session = session;
    return previous === session ? undefined : previous;
  }

  /** Clear the node's session only if it is still `session` (a replaced session closing is a no-op). */
  detach(name: string, session: S): boolean {
    const entry = this.#lookup(name);
    if (entry === undefined || entry.session === undefined || entry.session !== session) return false;
    entry.session = undefined;
    return true;
  }

  get(name: string): NodeInfo<S> | undefined {
    const key = normalizeNodeName(name);
    const entry = this.#lookup(name);
    return key === undefined || entry === undefined ? undefined : snapshot(key, entry);
  }

  /** The node owning `ip` (any accepted spelling: IPv6 with or without brackets, any case). */
  byIp(ip: string): NodeInfo<S> | undefined {
    const canonical = normalizeIp(ip);
    const name = canonical === undefined ? undefined : this.#byIp.get(canonical);
    return name === undefined ? undefined : this.get(name);
  }

  /** A snapshot of every node, sorted by name. */
  nodes(): NodeInfo<S>[] {
    return [...this.#nodes.keys()].sort().map((key) => snapshot(key, this.#nodes.get(key)!));
  }

  sessionOf(name: string): S | undefined {
    return this.#lookup(name)?.session;
  }

  #lookup(name: string): Entry<S> | undefined {
    const key = normalizeNodeName(name);
    return key === undefined ? undefined : this.#nodes.get(key);
  }

  #entry(key: string): Entry<S> {
    let entry = this.#nodes.get(key);
    if (entry === undefined) this.#nodes.set(key, (entry = { ips: [], session: undefined }));
    return entry;
  }

  #setIps(key: string, entry: Entry<S>, ips: readonly string[]): void {
    for (const ip of entry.ips) this.#byIp.delete(ip);
    for (const ip of ips) {
      const owner = this.#byIp.get(ip);
      const ownerEntry = owner === undefined ? undefined : this.#nodes.get(owner);
      if (ownerEntry !== undefined) ownerEntry.ips = ownerEntry.ips.filter((other) => other !== ip);
      this.#byIp.set(ip, key);
    }
    entry.ips = ips;
  }
}

/** Canonical, de-duplicated IPs in the given order; throws on the first invalid one. */
function checkIps(nodeName: string, ips: readonly string[]): readonly string[] {
  if (!Array.isArray(ips)) {
    throw new DnatError(DnatErrorCode.INVALID_IP, `the IPs of node ${nodeName} must be an array`);
  }
  return Object.freeze([...new Set(ips.map((ip: string) => requireIp(ip, nodeName)))]);
}

function snapshot<S>(name: string, entry: Entry<S>): NodeInfo<S> {
  return Object.freeze({ name, ips: entry.ips, session: entry.session });
}
