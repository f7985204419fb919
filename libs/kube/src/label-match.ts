// Equality-based label selectors (`k=v`, `k==v`, `k!=v`, `k`, `!k`, joined by commas; `in`/`notin`
// sets too) matched against a Node's labels, as the API server matches them. Used where the enroller
// must know whether one Node is an edge Node without a watch.

/** true when `labels` satisfy every requirement of `selector`; a requirement it cannot read never matches. */
export function matchesSelector(labels: Readonly<Record<string, string>>, selector: string): boolean {
  return splitTopLevel(selector).every((raw) => matchesRequirement(labels, raw.trim()));
}

function matchesRequirement(labels: Readonly<Record<string, string>>, req: string): boolean {
  const set = /^([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(req);
  if (set) {
    const values = new Set(set[3]!.split(',').map((v) => v.trim()));
    const has = Object.hasOwn(labels, set[1]!) && values.has(labels[set[1]!]!);
    return set[2] === 'in' ? has : !has;
  }
  const eq = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(req);
  if (eq) {
    const has = Object.hasOwn(labels, eq[1]!) && labels[eq[1]!] === eq[3];
    return eq[2] === '!=' ? !has : has;
  }
  const exists = /^(!?)([^\s!=(),]+)$/.exec(req);
  if (exists) return (exists[1] === '!') !== Object.hasOwn(labels, exists[2]!);
  return false;
}

function splitTopLevel(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i += 1) {
    const c = selector[i];
    if (c === '(') depth += 1;
    else if (c === ')') depth -= 1;
    else if (c === ',' && depth === 0) {
      parts.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(selector.slice(start));
  return parts.filter((p) => p.trim() !== '');
}
