import { badRequest } from './errors.js';
import type { KubeObject } from './store.js';

/** A compiled selector: true when the object matches. */
export type Matcher = (obj: KubeObject) => boolean;

type Requirement = (labels: Record<string, string>) => boolean;

const MATCH_ALL: Matcher = () => true;

/**
 * Parse a label selector: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k`, `!k`,
 * `k>1`, `k<1`, joined by commas. Throws a 400 StatusError on bad syntax.
 */
export function parseLabelSelector(selector: string | null | undefined): Matcher {
  if (!selector || !selector.trim()) return MATCH_ALL;
  const requirements = splitTopLevel(selector).map(parseRequirement);
  return (obj) => {
    const labels = obj.metadata?.labels ?? {};
    return requirements.every((r) => r(labels));
  };
}

function parseRequirement(raw: string): Requirement {
  const text = raw.trim();
  const set = /^([^\s!=<>(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(text);
  if (set) {
    const [, k, op, list] = set as unknown as [string, string, string, string];
    const values = new Set(
      list
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== ''),
    );
    return op === 'in' ? (l) => k in l && values.has(l[k]!) : (l) => !(k in l) || !values.has(l[k]!);
  }
  const cmp = /^([^\s!=<>(),]+)\s*(==|!=|=|>|<)\s*([^\s!=<>(),]*)$/.exec(text);
  if (cmp) {
    const [, k, op, v] = cmp as unknown as [string, string, string, string];
    if (op === '!=') return (l) => !(k in l) || l[k] !== v;
    if (op === '>') return (l) => k in l && Number(l[k]) > Number(v);
    if (op === '<') return (l) => k in l && Number(l[k]) < Number(v);
    return (l) => k in l && l[k] === v;
  }
  const exists = /^(!?)\s*([^\s!=<>(),]+)$/.exec(text);
  if (exists) {
    const [, not, k] = exists as unknown as [string, string, string];
    return not ? (l) => !(k in l) : (l) => k in l;
  }
  throw badRequest(`unable to parse requirement: "${text}"`);
}

/** Split on commas outside parentheses. */
function splitTopLevel(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(selector.slice(start));
  return parts.filter((p) => p.trim() !== '');
}

/**
 * Parse a field selector: `path=v`, `path==v`, `path!=v` joined by commas, where path is any
 * dotted path into the object (`metadata.name`, `metadata.namespace`, `spec.nodeName`,
 * `involvedObject.name`). A missing field compares as ''.
 */
export function parseFieldSelector(selector: string | null | undefined): Matcher {
  if (!selector || !selector.trim()) return MATCH_ALL;
  const terms = selector
    .split(',')
    .filter((p) => p.trim() !== '')
    .map((raw) => {
      const m = /^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$/.exec(raw);
      if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${raw}'`);
      const [, path, op, value] = m as unknown as [string, string, string, string];
      const segments = path.split('.');
      return (obj: KubeObject) => (fieldValue(obj, segments) === value) === (op !== '!=');
    });
  return (obj) => terms.every((t) => t(obj));
}

function fieldValue(obj: KubeObject, segments: string[]): string {
  let cur: unknown = obj;
  for (const s of segments) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[s];
  }
  return cur === undefined || cur === null ? '' : String(cur);
}

/** Both selectors of a request, plus namespace and name restrictions, as one matcher. */
export function requestMatcher(query: URLSearchParams, namespace?: string, name?: string): Matcher {
  const labels = parseLabelSelector(query.get('labelSelector'));
  const fields = parseFieldSelector(query.get('fieldSelector'));
  return (obj) =>
    (namespace === undefined || obj.metadata.namespace === namespace) && (name === undefined || obj.metadata.name === name) && labels(obj) && fields(obj);
}
