import { existsSync, readdirSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { POLICY_FOLDER_FILES, policyFolders } from './loadPolicy.js';

/**
 * Hook-request fixtures are named `<folder>/<file>.json` wherever they live: a policy's own in
 * `cds-services/<policy-id>/fixtures/` (beside its scenarios and case tables), named
 * `<policy-id>/<file>.json`; the others (routing, sandbox, Synthea) in `fixtures/<folder>/`.
 * Case tables, the playground and the tests all use these names.
 */
export interface FixtureFolder {
  /** The first segment of a fixture's name: a policy id or a folder of `fixtures/`. */
  readonly name: string;
  readonly dir: string;
}

/** Scenario definitions, not requests. */
const SCENARIOS = 'scenarios';

/** Every folder of fixtures: each policy's, then those of `fixturesDir` (scenario definitions left out). */
export function fixtureFolders(policyDir: string, fixturesDir: string): FixtureFolder[] {
  const own = existsSync(policyDir)
    ? policyFolders(policyDir)
        .map((name) => ({ name, dir: join(policyDir, name, POLICY_FOLDER_FILES.fixtures) }))
        .filter((f) => existsSync(f.dir))
    : [];
  const shared = existsSync(fixturesDir)
    ? readdirSync(fixturesDir, { withFileTypes: true })
        .filter((e) => e.isDirectory() && e.name !== SCENARIOS)
        .map((e) => ({ name: e.name, dir: join(fixturesDir, e.name) }))
    : [];
  return [...own, ...shared].sort((a, b) => a.name.localeCompare(b.name));
}

/** The file of a fixture name (`kp-wa-lumbar-mri/I.B-….json`), or undefined when it would leave its folder. */
export function fixtureFile(folders: readonly FixtureFolder[], name: string): string | undefined {
  const [first, ...rest] = name.split('/');
  const folder = folders.find((f) => f.name === first);
  if (!folder || rest.length === 0) return undefined;
  const root = resolve(folder.dir);
  const file = resolve(root, ...rest);
  return file.startsWith(root + sep) ? file : undefined;
}
