// The table of edge nodes: name → IPs and the live agent session; IP → node.
import { DnatError, DnatErrorCode } from './errors.js';
import { normalizeIp, normalizeNodeName, requireIp, requireNodeName } from './ip.js';

/** A snapshot of one node (frozen; later table changes do not show in it). */
export interface NodeInfo<S> {
  /** canonical (lower-case) node name */
  readonly name: string;
  /** canonical IPs in the order given, those claimed by another node too left out; the first is the target when the node is addressed by name */
  readonly ips: readonly string[];
  /** IPs this node claims that another node claims too: routed to neither (see NodeTable) */
  readonly contested: readonly string[];
  /** the live agent session, if any */
  readonly session: S | undefined;
}

interface Entry<S> {
  /** every IP the node claims, canonical, in order */
  ips: readonly string[];
  session: S | undefined;
}

/** An IP that more than one node claims. */
export interface IpConflict {
  readonly ip: string;
  /** the claimants, sorted */
  readonly nodes: readonly string[];
}

/**
 * Nodes by name and by IP, generic over the session type `S`. Names are matched case-insensitively
 * (stored lower-case); IPs are stored canonical (IPv6 without brackets, lower-case, compressed). An IP
 * is claimed once: when a second node claims it (upsert or attach with ips), it belongs to neither —
 * byIp finds nothing, neither node lists it in `ips` (both in `contested`), conflicts() names it —
 * until all but one claimant drop it. (A later claim that won would let one node take another's
 * traffic by listing its IP.) Writes validate everything before changing anything and throw
 * `ERR_DNAT_INVALID_NODE_NAME` / `ERR_DNAT_INVALID_IP`; lookups with bad input just find nothing.
 */
export class NodeTable<S> {
  readonly #nodes = new Map<string, Entry<S>>();
  /** IP → the names of every node claiming it */
  readonly #byIp = new Map<string, Set<string>>();

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
    return this.#snapshot(key, entry);
  }

  /** Forget the node (and its IPs and session reference); false if it was unknown. */
  removeNode(name: string): boolean {
    const key = normalizeNodeName(name);
    const entry = key === undefined ? undefined : this.#nodes.get(key);
    if (key === undefined || entry === undefined) return false;
    this.#release(key, entry);
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
    return key === undefined || entry === undefined ? undefined : this.#snapshot(key, entry);
  }

  /** The node owning `ip` (any accepted spelling: IPv6 with or without brackets, any case). */
  byIp(ip: string): NodeInfo<S> | undefined {
    const canonical = normalizeIp(ip);
    const claimants = canonical === undefined ? undefined : this.#byIp.get(canonical);
    return claimants === undefined || claimants.size !== 1 ? undefined : this.get(claimants.values().next().value!);
  }

  /** IPs that several nodes claim (routed to none of them), sorted by IP. */
  conflicts(): IpConflict[] {
    const out: IpConflict[] = [];
    for (const [ip, names] of this.#byIp) if (names.size > 1) out.push(Object.freeze({ ip, nodes: Object.freeze([...names].sort()) }));
    return out.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  }

  /** A snapshot of every node, sorted by name. */
  nodes(): NodeInfo<S>[] {
    return [...this.#nodes.keys()].sort().map((key) => this.#snapshot(key, this.#nodes.get(key)!));
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
    this.#release(key, entry);
    for (const ip of ips) {
      let claimants = this.#byIp.get(ip);
      if (claimants === undefined) this.#byIp.set(ip, (claimants = new Set()));
      claimants.add(key);
    }
    entry.ips = ips;
  }

  #release(key: string, entry: Entry<S>): void {
    for (const ip of entry.ips) {
      const claimants = this.#byIp.get(ip);
      claimants?.delete(key);
      if (claimants?.size === 0) this.#byIp.delete(ip);
    }
  }

  #snapshot(name: string, entry: Entry<S>): NodeInfo<S> {
    const ips: string[] = [];
    const contested: string[] = [];
    for (const ip of entry.ips) (this.#byIp.get(ip)!.size === 1 ? ips : contested).push(ip);
    return Object.freeze({ name, ips: Object.freeze(ips), contested: Object.freeze(contested), session: entry.session });
  }
}

/** Canonical, de-duplicated IPs in the given order; throws on the first invalid one. */
function checkIps(nodeName: string, ips: readonly string[]): readonly string[] {
  if (!Array.isArray(ips)) {
    throw new DnatError(DnatErrorCode.INVALID_IP, `the IPs of node ${nodeName} must be an array`);
  }
  return Object.freeze([...new Set(ips.map((ip: string) => requireIp(ip, nodeName)))]);
}
