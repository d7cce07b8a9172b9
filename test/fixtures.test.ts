import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderFixtures, ROOT } from '../scripts/fixtures/generate.js';

describe('fixtures', () => {
  it('are up to date with their scenario definitions (npx tsx scripts/fixtures/generate.ts)', () => {
    const stale: string[] = [];
    for (const [path, text] of renderFixtures()) {
      const file = join(ROOT, path);
      if (!existsSync(file) || readFileSync(file, 'utf8') !== text) stale.push(path);
    }
    expect(stale).toEqual([]);
  });
});
