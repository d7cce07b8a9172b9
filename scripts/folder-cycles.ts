/**
 * The boundary rule at folder level: no import cycle between the folders of src/ (issue 13). The
 * dependency-cruiser rules hold files and layers; a layer holds several folders, so two folders of
 * one layer could still import each other. Run by `npm run lint`; exits 1 naming each cycle and
 * the imports that close it.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FileImport {
  readonly from: string;
  readonly to: string;
}

/** `src/facts/episode.ts` → `facts`; a file directly under src/ is its own node (`server.ts`). */
export function folderOf(file: string): string | undefined {
  const m = /^src\/([^/]+)/.exec(file);
  return m ? m[1] : undefined;
}

/** Strongly connected groups of more than one folder (Tarjan), each with the file imports inside it. */
export function folderCycles(imports: readonly FileImport[]): { folders: string[]; imports: FileImport[] }[] {
  const graph = new Map<string, Set<string>>();
  for (const { from, to } of imports) {
    const a = folderOf(from);
    const b = folderOf(to);
    if (!a || !b || a === b) continue;
    if (!graph.has(a)) graph.set(a, new Set());
    if (!graph.has(b)) graph.set(b, new Set());
    graph.get(a)?.add(b);
  }
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string | undefined;
    do {
      w = stack.pop();
      if (w === undefined) break;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1) groups.push(group.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return groups.map((folders) => ({
    folders,
    imports: imports.filter((i) => {
      const a = folderOf(i.from);
      const b = folderOf(i.to);
      return a !== b && a !== undefined && b !== undefined && folders.includes(a) && folders.includes(b);
    }),
  }));
}

/** Every import between files of src/, as dependency-cruiser resolves them (type-only ones too). */
export function srcImports(root: string): FileImport[] {
  const out = execFileSync(join(root, 'node_modules', '.bin', 'depcruise'), ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: root, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
  const parsed: unknown = JSON.parse(out);
  const modules = (parsed as { modules?: { source: string; dependencies: { resolved: string }[] }[] }).modules ?? [];
  return modules.flatMap((m) => m.dependencies.filter((d) => d.resolved.startsWith('src/')).map((d) => ({ from: m.source, to: d.resolved })));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const cycles = folderCycles(srcImports(root));
  if (cycles.length === 0) {
    console.log('✔ no import cycle between the folders of src/');
  } else {
    for (const c of cycles) {
      console.error(`✘ folders in a cycle: ${c.folders.join(', ')}`);
      for (const i of c.imports) console.error(`    ${i.from} -> ${i.to}`);
    }
    process.exit(1);
  }
}
