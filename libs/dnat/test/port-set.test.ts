// PortSet and the agent ports message: membership against a naive Set oracle, both wire forms
// (ranges, bitmap) round-tripping, the bitmap bounding any set, malformed text refused with a code.
import t from 'tap';
import {
  PortSet,
  agentPortsMessage,
  agentPortsOf,
  parseAgentPortsMessage,
  parsePortCeiling,
  parsePortConfig,
  portCeilingHello,
  refusedByCeiling,
} from '../src/index.js';

/** mulberry32 */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}

t.test('of / ofSpans / has / toString', async (t) => {
  const s = PortSet.of([9053, 9051, 9052, 9100, 9051, 0, 70_000]);
  t.equal(s.toString(), '9051-9053,9100', 'sorted, merged, duplicates and out-of-range dropped');
  t.equal(s.size, 4);
  for (const p of [9051, 9052, 9053, 9100]) t.ok(s.has(p), `has ${p}`);
  for (const p of [9050, 9054, 9099, 9101, 1, 65_535]) t.notOk(s.has(p), `not ${p}`);
  t.equal(
    PortSet.ofSpans([
      { lo: 5, hi: 9 },
      { lo: 1, hi: 4 },
      { lo: 8, hi: 20 },
    ]).toString(),
    '1-20',
  );
  t.equal(PortSet.ALL.size, 65_535);
  t.equal(PortSet.EMPTY.encode(), '');
});

t.test('minus against a naive oracle', async (t) => {
  const r = rng(3);
  for (let round = 0; round < 50; round++) {
    const a = Array.from({ length: 300 }, () => 1 + Math.floor(r() * 2_000));
    const b = Array.from({ length: 300 }, () => 1 + Math.floor(r() * 2_000));
    const got = PortSet.of(a).minus(PortSet.of(b));
    const want = PortSet.of(a.filter((p) => !b.includes(p)));
    if (!got.equals(want)) return t.fail(`round ${round}: ${got} != ${want}`);
  }
  t.pass('50 random rounds');
  t.equal(PortSet.ALL.minus(PortSet.of([1, 65_535])).toString(), '2-65534');
});

t.test('wire text: ranges when short, bitmap when scattered; both parse back', async (t) => {
  const dense = PortSet.ofSpans([{ lo: 20_000, hi: 29_999 }]);
  t.equal(dense.encode(), '20000-29999', '10 000 consecutive ports are one range');
  const r = rng(9);
  const scattered = PortSet.of(Array.from({ length: 10_000 }, () => 1 + Math.floor(r() * 65_535)));
  const wire = scattered.encode();
  t.match(wire, /^b64:/, 'a scattered set uses the bitmap');
  t.ok(wire.length <= 10_932, `bounded: ${wire.length} characters for ${scattered.size} ports (ranges: ${scattered.toString().length})`);
  t.ok(PortSet.parse(wire).equals(scattered), 'the bitmap parses back');
  t.ok(PortSet.parse(dense.encode()).equals(dense));
  t.ok(PortSet.parse(PortSet.ALL.encode()).equals(PortSet.ALL));
  t.equal(PortSet.parse('').size, 0);
});

t.test('malformed wire text is refused with ERR_DNAT_INVALID_PORT_SET', async (t) => {
  for (const bad of ['9051,', 'x', '0', '65536', '9-3', '1-2-3', 'b64:AAAA', 'b64:' + '!'.repeat(10_924), ' 9051', undefined]) {
    t.throws(() => PortSet.parse(bad as string), { code: 'ERR_DNAT_INVALID_PORT_SET' }, JSON.stringify(bad));
  }
});

t.test('the node share of a port config, the message, the ceiling', async (t) => {
  const { config } = parsePortConfig({
    'dnat-ports-pair': '9051=10264,9052=10264',
    'http-proxy-ports': '9400',
    'https-proxy-ports': '9443',
    'localhost-proxy-ports': '9400,9500',
  });
  const ports = agentPortsOf(config);
  t.equal(ports.node.toString(), '9051-9052,9443', 'node IP: configured ports that are not localhost ports');
  t.equal(ports.localhost.toString(), '9400,9500');
  const msg = agentPortsMessage(ports, 7);
  t.same(msg, { kind: 'ports', rev: 7, node: '9051-9052,9443', localhost: '9400,9500' });
  const back = parseAgentPortsMessage(JSON.parse(JSON.stringify(msg)))!;
  t.equal(back.rev, 7);
  t.ok(back.node.equals(ports.node) && back.localhost.equals(ports.localhost));
  t.equal(parseAgentPortsMessage({ kind: 'something-else' }), undefined, 'other kinds are not ours');
  t.throws(() => parseAgentPortsMessage({ kind: 'ports', rev: -1, node: '', localhost: '' }), { code: 'ERR_DNAT_INVALID_PORT_SET' });
  t.throws(() => parseAgentPortsMessage({ kind: 'ports', rev: 1, node: 5, localhost: '' }), { code: 'ERR_DNAT_INVALID_PORT_SET' });

  const ceiling = { node: PortSet.of([9051]), localhost: PortSet.EMPTY };
  const hello = portCeilingHello(ceiling);
  t.same(hello, { node: '9051', localhost: '' });
  const parsed = parsePortCeiling(hello)!;
  const refused = refusedByCeiling(ports, parsed);
  t.equal(refused.node.toString(), '9052,9443');
  t.equal(refused.localhost.toString(), '9400,9500', 'no --localhost-ports: every localhost port is refused');
  t.equal(parsePortCeiling(undefined), undefined);
  t.equal(parsePortCeiling({ node: 'nope', localhost: '' }), undefined, 'a malformed ceiling is unknown, not an error');
});

t.test('bitmap decode against the naive set: random sets with full bytes, edges and single ports', async (t) => {
  const r = rng(11);
  for (let round = 0; round < 40; round++) {
    const ports: number[] = [1, 65_535, 7, 8, 15, 16];
    for (let i = 0; i < 4_000; i++) ports.push(1 + Math.floor(r() * 65_535));
    const lo = 1 + Math.floor(r() * 60_000);
    for (let p = lo; p < lo + Math.floor(r() * 200); p++) ports.push(p); // a run across whole bytes
    const want = PortSet.of(ports);
    const wire = want.encode();
    if (!wire.startsWith('b64:')) return t.fail(`round ${round}: expected the bitmap form`);
    const got = PortSet.parse(wire);
    if (!got.equals(want) || got.size !== want.size) return t.fail(`round ${round}: ${got.size} ports, want ${want.size}`);
    for (let k = 0; k < 200; k++) {
      const p = 1 + Math.floor(r() * 65_535);
      if (got.has(p) !== ports.includes(p)) return t.fail(`round ${round}: has(${p})`);
    }
  }
  t.pass('40 random bitmaps decode to the same set');
  t.same(PortSet.parse('9051-9052').spans, [{ lo: 9051, hi: 9052 }]);
});
