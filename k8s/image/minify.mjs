// Image build step: rewrites every .js/.cjs/.mjs file under the given directories with esbuild's
// whitespace minification (comments, indentation and source-map links go; names, module format and
// legal comments stay; no syntax rewriting), in place. A file esbuild cannot parse is left as it is.
// Usage: node minify.mjs ESBUILD_DIR DIR...   (ESBUILD_DIR: a node_modules/esbuild copied from the
// dev install, since the production install no longer has it). Prints one summary line.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [esbuildDir, ...dirs] = process.argv.slice(2);
if (!esbuildDir || dirs.length === 0) {
  console.error('usage: node minify.mjs ESBUILD_DIR DIR...');
  process.exit(2);
}
const { transformSync } = createRequire(import.meta.url)(esbuildDir);
let files = 0,
  kept = 0,
  before = 0,
  after = 0;
for (const dir of dirs) {
  for (const rel of readdirSync(dir, { recursive: true, withFileTypes: false })) {
    const file = join(dir, String(rel));
    if (!/\.(c|m)?js$/.test(file)) continue;
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // a directory named *.js, or a dangling link
    }
    files += 1;
    before += Buffer.byteLength(text);
    try {
      const { code } = transformSync(text, { loader: 'js', minifyWhitespace: true, keepNames: true, legalComments: 'inline', charset: 'utf8' });
      if (code.length < text.length) {
        writeFileSync(file, code);
        text = code;
      }
    } catch {
      kept += 1;
    }
    after += Buffer.byteLength(text);
  }
}
const mb = (n) => (n / 1e6).toFixed(1);
console.log(`minify: ${files} files, ${mb(before)} MB -> ${mb(after)} MB, ${kept} left as they were (not parsable)`);
