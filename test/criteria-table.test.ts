import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLibrary } from '../src/library/library.js';
import { renderCriteriaDocs, ROOT } from '../scripts/criteria-table.js';

describe('criteria tables (docs/criteria)', () => {
  const docs = renderCriteriaDocs();

  it('are up to date with the policy data (npm run docs:criteria)', () => {
    const stale: string[] = [];
    for (const [path, text] of docs) {
      const file = join(ROOT, path);
      if (!existsSync(file) || readFileSync(file, 'utf8') !== text) stale.push(path);
    }
    expect(stale).toEqual([]);
  });

  it('cover every policy version, listed in the index, with every node in outline order', () => {
    const index = docs.get('docs/criteria/README.md') ?? '';
    for (const p of loadLibrary(join(ROOT, 'cds-services')).policies) {
      const name = `${p.policyId}-${p.version}.md`;
      const doc = docs.get(`docs/criteria/${name}`);
      expect(doc, name).toBeDefined();
      expect(index).toContain(`(${name})`);
      const ids: string[] = [];
      const walk = (n: (typeof p.indications)[number]): void => {
        ids.push(n.id);
        if (n.kind === 'all' || n.kind === 'any' || n.kind === 'atLeast') n.children.forEach(walk);
        if (n.kind === 'not') walk(n.child);
      };
      [...p.exclusions, ...p.indications, ...p.reviews, ...(p.definitions ?? [])].forEach(walk);
      let at = 0;
      for (const id of ids) {
        const found = doc!.indexOf(`\`${id}\` |`, at);
        expect(found, `${name}: ${id} after position ${at}`).toBeGreaterThanOrEqual(0);
        at = found;
      }
    }
  });

  it('names the codes of a fact leaf (KP III.B.3.b: surgical adverse effects)', () => {
    const doc = docs.get('docs/criteria/kp-wa-lumbar-mri-2024-01-01.md') ?? '';
    const row = doc.split('\n').find((l) => l.includes('`III.B.3.b` |')) ?? '';
    expect(row).toContain('`surgical-adverse-effects`');
    expect(row).toContain('ICD-10-CM T84.216*');
    expect(row).toContain('documentation finding `surgical-adverse-effects`');
  });
});
