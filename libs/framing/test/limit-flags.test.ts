// The flag table the server and the agent share: its bounds and defaults are the ones resolveOptions
// enforces, so a value the flag parser lets through never fails later in the session.
import t from 'tap';
import { FRAMING_FLAGS, framingLimitsProblem, type FramingLimits } from '../src/limit-flags.js';
import { DEFAULTS, resolveOptions } from '../src/options.js';

const defaults = Object.fromEntries(FRAMING_FLAGS.map((f) => [f.key, f.default])) as unknown as FramingLimits;

t.test('every flag defaults to the session default', async (t) => {
  for (const f of FRAMING_FLAGS) t.equal(f.default, DEFAULTS[f.key], `--${f.flag}`);
});

t.test('each bound is accepted by resolveOptions, one past it is refused', async (t) => {
  for (const f of FRAMING_FLAGS) {
    // windows below the initial window are a cross-flag rule: keep the others at their smallest
    const at = (v: number): FramingLimits => ({ ...defaults, initialWindow: 1024, [f.key]: v });
    t.doesNotThrow(() => resolveOptions({ role: 'client', ...at(f.min) }), `--${f.flag} ${f.min}`);
    t.throws(() => resolveOptions({ role: 'client', ...at(f.min - 1) }), { code: 'ERR_FRAMING_INVALID_OPTION' }, `--${f.flag} ${f.min - 1}`);
    if (f.max < Number.MAX_SAFE_INTEGER && f.key !== 'receiveBudget') {
      t.throws(() => resolveOptions({ role: 'client', ...at(f.max + 1) }), { code: 'ERR_FRAMING_INVALID_OPTION' }, `--${f.flag} ${f.max + 1}`);
    }
  }
});

t.test('the cross-flag rules name the flags', async (t) => {
  t.equal(framingLimitsProblem(defaults), undefined);
  t.match(framingLimitsProblem({ ...defaults, initialWindow: 4096, maxWindow: 2048 }), {
    flag: '--max-window',
    message: /--max-window \(2048\) must be at least --initial-window \(4096\)/,
  });
  t.match(framingLimitsProblem({ ...defaults, initialWindow: 4096, receiveBudget: 2048 }), { flag: '--receive-budget' });
});
