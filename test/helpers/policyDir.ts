import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

/** The repository's policy folder. */
export const POLICY_DIR = join(import.meta.dirname, '..', '..', 'cds-services');

/** A temporary copy of cds-services/ (data only: no fixtures or scenarios), to break or extend. */
export function copyPolicyDir(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'policy-dir-')), 'cds-services');
  cpSync(POLICY_DIR, dir, { recursive: true, filter: (src) => !['fixtures', 'scenarios'].includes(basename(src)) });
  return dir;
}

/** Rewrites a JSON file in place. */
export function editJson<T>(file: string, edit: (json: T) => T | void): void {
  const json = JSON.parse(readFileSync(file, 'utf8')) as T;
  writeFileSync(file, `${JSON.stringify(edit(json) ?? json, null, 2)}\n`);
}
