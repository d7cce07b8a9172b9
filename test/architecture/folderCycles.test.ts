import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderCycles, srcImports } from '../../scripts/folder-cycles.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('folder-level import cycles (scripts/folder-cycles.ts, run by npm run lint)', () => {
  it('finds a cycle through three folders and names the imports that close it', () => {
    const cycles = folderCycles([
      { from: 'src/store/a.ts', to: 'src/pas/b.ts' },
      { from: 'src/pas/b.ts', to: 'src/records/c.ts' },
      { from: 'src/records/c.ts', to: 'src/store/d.ts' },
      { from: 'src/records/c.ts', to: 'src/log.ts' },
      { from: 'src/store/a.ts', to: 'src/store/d.ts' },
    ]);
    expect(cycles).toHaveLength(1);
    expect(cycles[0].folders).toEqual(['pas', 'records', 'store']);
    expect(cycles[0].imports).toHaveLength(3);
  });

  it('sees no cycle where imports go one way', () => {
    expect(folderCycles([
      { from: 'src/http/app.ts', to: 'src/pipeline/runHook.ts' },
      { from: 'src/pipeline/runHook.ts', to: 'src/decision/decideOrder.ts' },
      { from: 'src/http/app.ts', to: 'src/decision/decideOrder.ts' },
    ])).toEqual([]);
  });

  it('src/ has none', { timeout: 60_000 }, () => {
    const imports = srcImports(ROOT);
    expect(imports.length).toBeGreaterThan(300);
    expect(folderCycles(imports)).toEqual([]);
  });
});
