// The workspace keeps its module boundaries (src/boundaries.ts), and the rules catch what they should.
import t from 'tap';
import { importsOf, typeOf, violations, type Project } from '../src/boundaries.js';
import { readImports, readProjects } from '../src/workspace.js';

const project = (name: string, type: Project['type'], declared: string[] = []): Project => ({
  name,
  dir: name.replace('@edge-tunnel/', 'x/'),
  type,
  declared: new Set(declared),
});

t.test('the workspace: every project tagged, no import across a boundary, every import declared', async (t) => {
  const projects = readProjects();
  t.ok(projects.length >= 14, `${projects.length} projects`);
  t.same(violations(projects, readImports(projects)), []);
});

t.test('rules', async (t) => {
  const lib = project('@edge-tunnel/dnat', 'lib');
  const app = project('@edge-tunnel/server', 'app', ['@edge-tunnel/dnat']);
  const tool = project('@edge-tunnel/lab', 'tool', ['@edge-tunnel/server']);
  const libUsingApp = project('@edge-tunnel/kube', 'lib', ['@edge-tunnel/server', '@edge-tunnel/lab']);
  const all = [lib, app, tool, libUsingApp];
  const imp = (p: Project, target: string, scope: 'src' | 'test' = 'src') => ({ project: p, file: `${p.dir}/${scope}/a.ts`, scope, target });
  t.same(violations(all, [imp(app, '@edge-tunnel/dnat'), imp(tool, '@edge-tunnel/server'), imp(libUsingApp, '@edge-tunnel/lab', 'test')]), []);
  t.match(violations(all, [imp(libUsingApp, '@edge-tunnel/server')]), [/lib's src code may not import the app/]);
  t.match(violations(all, [imp(libUsingApp, '@edge-tunnel/server', 'test')]), [/lib's test code may not import the app/]);
  t.match(violations(all, [imp(app, '@edge-tunnel/lab')]), [/declare it in/, /app's src code may not import the tool/]);
  t.match(violations(all, [imp(lib, '@edge-tunnel/nope')]), [/not a project of this workspace/]);
  t.match(violations([project('@edge-tunnel/x', undefined)], []), [/no "nx": \{ "tags"/]);
});

t.test('typeOf and importsOf', async (t) => {
  t.equal(typeOf(['scope:x', 'type:lib']), 'lib');
  t.equal(typeOf(['type:other']), undefined);
  t.equal(typeOf(undefined), undefined);
  // written with S so that this file itself imports nothing the workspace check would see
  const S = '@edge-tunnel';
  const text = [
    `import { a } from '${S}/dnat';`,
    `import type { B } from '${S}/framing';`,
    `export { c } from '${S}/pki';`,
    `const m = await import('${S}/server');`,
    `import x from 'node:fs'; // '${S}/in-a-comment' is not an import`,
  ].join('\n');
  t.same(importsOf(text), ['@edge-tunnel/dnat', '@edge-tunnel/framing', '@edge-tunnel/pki', '@edge-tunnel/server']);
});
