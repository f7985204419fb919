// Reads the workspace: its projects (package.json of each workspace folder) and their source files.
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { importsOf, typeOf, type Import, type Project } from './boundaries.js';

export const ROOT = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
const SKIP = new Set(['node_modules', 'dist', '.tap', 'coverage', '.nx']);

export function readProjects(root = ROOT): Project[] {
  const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  const dirs = workspaces.flatMap((w) => (w.endsWith('/*') ? readdirSync(join(root, w.slice(0, -2))).map((d) => join(w.slice(0, -2), d)) : [w]));
  return dirs
    .filter((dir) => existsSync(join(root, dir, 'package.json')))
    .map((dir) => {
      const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
      const deps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((d) => d.startsWith('@edge-tunnel/'));
      return { name: pkg.name as string, dir, type: typeOf(pkg.nx?.tags), declared: new Set(deps) };
    });
}

/** Every .ts / .mjs / .js file of a project outside dist and node_modules, relative to the root. */
export function sourceFiles(project: Project, root = ROOT): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (SKIP.has(name)) continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|mts|mjs|js)$/.test(name) && !name.endsWith('.d.ts')) out.push(relative(root, path));
    }
  };
  walk(join(root, project.dir));
  return out.sort();
}

export function readImports(projects: readonly Project[], root = ROOT): Import[] {
  return projects.flatMap((project) =>
    sourceFiles(project, root).flatMap((file) => {
      const scope = file.startsWith(`${project.dir}/src/`) ? ('src' as const) : ('test' as const);
      return importsOf(readFileSync(join(root, file), 'utf8')).map((target) => ({ project, file, scope, target }));
    }),
  );
}
