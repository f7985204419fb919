// The benchmarks (perf/*.mjs and perf/{lib,ab,framing,fuzz,test}) are plain JavaScript; TypeScript checks
// them with their JSDoc types (perf/tsconfig.json: checkJs, noEmit, noImplicitAny). A failure lists file:line TSnnnn message.
import { join } from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { readProjects, ROOT, sourceFiles } from '../src/workspace.js';

t.test('tsc: no type errors in perf/*.mjs', (t) => {
  const configPath = join(ROOT, 'perf', 'tsconfig.json');
  const { config, error } = ts.readConfigFile(configPath, ts.sys.readFile);
  t.equal(error, undefined, 'perf/tsconfig.json parses');
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, join(ROOT, 'perf'), undefined, configPath);
  t.same(
    parsed.errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' ')),
    [],
    'perf/tsconfig.json is valid',
  );
  t.ok(parsed.options.checkJs && parsed.options.noEmit, 'checkJs and noEmit are on');
  t.ok(parsed.options.noImplicitAny, 'noImplicitAny is on: every parameter has a JSDoc type');
  const program = ts.createProgram(parsed.fileNames, parsed.options);
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName.slice(ROOT.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : 'tsconfig';
    return `${where} TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
  // every benchmark script is checked: each .mjs of perf/ but its tests (tap runs those)
  const perf = readProjects().find((p) => p.dir === 'perf')!;
  const checked = new Set(parsed.fileNames.map((f) => f.slice(ROOT.length + 1)));
  const scripts = sourceFiles(perf).filter((f) => f.endsWith('.mjs') && !f.startsWith('perf/test/'));
  t.ok(scripts.length > 40, `${scripts.length} scripts`);
  t.same(
    scripts.filter((f) => !checked.has(f)),
    [],
    'every script is in perf/tsconfig.json',
  );
  t.same(problems, []);
  t.end();
});
