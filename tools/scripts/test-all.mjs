#!/usr/bin/env node
// `npm test`: builds every project, runs each project's tests one project at a time (the network
// tests must not race), and closes with one line `N passed, N failed, N skipped` summing them all.
// Exits non-zero on any failure, including a project whose test command failed before tap counted.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', FORCE_COLOR: '0' };
const only = process.argv.slice(2); // optional project names to narrow the run

function run(cmd, args, cwd) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const tee = (dst) => (chunk) => {
      out += chunk;
      dst.write(chunk);
    };
    child.stdout.on('data', tee(process.stdout));
    child.stderr.on('data', tee(process.stderr));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function projects() {
  const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const dirs = [];
  for (const pattern of workspaces) {
    const base = pattern.replace(/\/\*$/, '');
    const candidates = pattern.endsWith('/*') ? readdirSync(join(root, base)).map((d) => join(base, d)) : [base];
    for (const dir of candidates.sort()) {
      const file = join(root, dir, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8'));
      if (pkg.scripts?.test && (only.length === 0 || only.includes(pkg.name))) dirs.push({ dir, name: pkg.name });
    }
  }
  return dirs;
}

// tap closes with `# { total: 3, pass: 2, fail: 1, skip: 0, todo: 0 }` (absent keys are zero).
function tapCounts(out) {
  const lines = out.split('\n').filter((l) => /^# \{ total: \d+/.test(l));
  const last = lines.at(-1);
  if (!last) return null;
  const num = (k) => Number(last.match(new RegExp(`\\b${k}: (\\d+)`))?.[1] ?? 0);
  return { pass: num('pass'), fail: num('fail'), skip: num('skip') + num('todo') };
}

const total = { pass: 0, fail: 0, skip: 0 };
const rows = [];
const build = await run('npx', ['nx', 'run-many', '-t', 'build', '--output-style=static'], root);
if (build.code !== 0) {
  console.log('\nbuild failed: no test can run');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
for (const { dir, name } of projects()) {
  console.log(`\n=== ${name} (${dir}) ===`);
  const started = Date.now();
  const { code, out } = await run('npm', ['test', '--silent'], join(root, dir));
  const counts = tapCounts(out) ?? { pass: 0, fail: 0, skip: 0 };
  // A non-zero exit that tap did not count (type errors, a crash, coverage) is one failure.
  if (code !== 0 && counts.fail === 0) counts.fail = 1;
  for (const k of Object.keys(total)) total[k] += counts[k];
  rows.push(
    `${name.padEnd(28)} ${String(counts.pass).padStart(5)} passed ${String(counts.fail).padStart(3)} failed ${String(counts.skip).padStart(3)} skipped  ${((Date.now() - started) / 1000).toFixed(1)}s`,
  );
}
console.log('\n' + rows.join('\n'));
if (rows.length === 0 || total.pass + total.fail === 0) {
  console.log('no test ran');
  total.fail += 1;
}
console.log(`${total.pass} passed, ${total.fail} failed, ${total.skip} skipped`);
process.exit(total.fail > 0 ? 1 : 0);
