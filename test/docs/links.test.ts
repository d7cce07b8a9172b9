/**
 * The README and docs cite only what ships in the repository: every relative link resolves to a file
 * or folder of the repository, and nothing points outside it (a workspace path, a sibling folder).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const docs = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? docs(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
  );
const FILES = ['README.md', 'cds-services/README.md', ...docs('docs')];

describe('README and docs', () => {
  it.each(FILES)('%s: every relative link resolves inside the repository', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^(https?:|mailto:|#)/.test(t));
    for (const t of targets) {
      const path = resolve(ROOT, dirname(file), t.split('#')[0]!);
      expect({ file, link: t, inside: !relative(ROOT, path).startsWith('..') }).toEqual({ file, link: t, inside: true });
      expect({ file, link: t, exists: existsSync(path) }).toEqual({ file, link: t, exists: true });
    }
  });

  it.each(FILES)('%s: names no file outside the repository', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    expect(text).not.toMatch(/\/work\/|\.\.\/shared\/|shared\/seeds|service-contract\.md|sandbox-quirks\.md|terminology\.md|standards\.md/);
  });
});
