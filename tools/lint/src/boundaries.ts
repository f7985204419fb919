// Module boundaries between the workspace's projects, by their Nx tags (`nx.tags` in package.json):
// a `type:lib` is pure and reusable, so its shipped code (`src/`) imports only other libs; an app
// (`type:app`) imports libs; a tool (`type:tool`: lab, emulators, perf, k8s checks) may import
// anything. Tests may import tools (fixtures such as the fake API server), never an app from a lib.
// Every import of another project must be declared in the importer's package.json.

export type ProjectType = 'lib' | 'app' | 'tool';

export interface Project {
  name: string;
  dir: string;
  type: ProjectType | undefined;
  /** `@edge-tunnel/*` names in dependencies and devDependencies */
  declared: ReadonlySet<string>;
}

export interface Import {
  project: Project;
  file: string;
  /** `src` (shipped) or `test` (anything else: tests, fixtures, scripts) */
  scope: 'src' | 'test';
  target: string;
}

/** May code of `from` in `scope` import project `to`? */
const ALLOWED: Record<ProjectType, Record<'src' | 'test', readonly ProjectType[]>> = {
  lib: { src: ['lib'], test: ['lib', 'tool'] },
  app: { src: ['lib'], test: ['lib', 'app', 'tool'] },
  tool: { src: ['lib', 'app', 'tool'], test: ['lib', 'app', 'tool'] },
};

/** The project type a tag list names, or undefined. */
export function typeOf(tags: readonly string[] | undefined): ProjectType | undefined {
  const t = tags?.find((tag) => tag.startsWith('type:'))?.slice('type:'.length);
  return t === 'lib' || t === 'app' || t === 'tool' ? t : undefined;
}

/** One line per broken rule, each saying what to fix. */
export function violations(projects: readonly Project[], imports: readonly Import[]): string[] {
  const byName = new Map(projects.map((p) => [p.name, p]));
  const out: string[] = [];
  for (const p of projects) if (p.type === undefined) out.push(`${p.dir}/package.json: no "nx": { "tags": ["type:lib|app|tool"] }`);
  for (const i of imports) {
    const to = byName.get(i.target);
    if (to === undefined) {
      out.push(`${i.file}: imports ${i.target}, which is not a project of this workspace`);
      continue;
    }
    if (to === i.project) continue;
    if (!i.project.declared.has(i.target)) out.push(`${i.file}: imports ${i.target}; declare it in ${i.project.dir}/package.json`);
    if (i.project.type === undefined || to.type === undefined) continue;
    if (!ALLOWED[i.project.type][i.scope].includes(to.type)) {
      out.push(`${i.file}: a ${i.project.type}'s ${i.scope} code may not import the ${to.type} ${i.target}`);
    }
  }
  return out;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s+['"](@edge-tunnel\/[^'"/]+)|import\(\s*['"](@edge-tunnel\/[^'"/]+)/g;

/** The `@edge-tunnel/*` project names a source text imports (static, re-export and dynamic). */
export function importsOf(text: string): string[] {
  return [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);
}
