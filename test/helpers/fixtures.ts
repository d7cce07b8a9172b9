import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureFile, fixtureFolders } from '../../src/library/fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The repository's fixture folders: each policy's (`cds-services/<policy-id>/fixtures/`) and `fixtures/<folder>/`. */
export const FIXTURE_FOLDERS = fixtureFolders(join(ROOT, 'cds-services'), join(ROOT, 'fixtures'));

/** The file of a fixture by its name (`kp-wa-lumbar-mri/I.B-….json`, `routing/….json`). */
export function fixturePath(name: string): string {
  const file = fixtureFile(FIXTURE_FOLDERS, name);
  if (!file) throw new Error(`no fixture folder for ${name}`);
  return file;
}
