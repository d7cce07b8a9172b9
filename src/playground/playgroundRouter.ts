/**
 * The playground: a small static page that acts as an EHR against this service (README "Playground").
 * Serves the built page (playground/dist, `npm run build:playground`) and the repository's fixtures,
 * so a tester can pick a patient without pasting JSON.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import { notFound } from '../hooks/errors.js';
import { fixtureFile, fixtureFolders, type FixtureFolder } from '../library/fixtures.js';
import { versionFolders } from '../library/loadPolicy.js';

export interface PlaygroundOptions {
  /** Folder of the shared hook-request fixtures (default: the repository's `fixtures/`); each policy's own are in `<policyDir>/<policy-id>/fixtures/`. */
  readonly fixturesDir?: string;
  /** Folder of the built page (default: the repository's `playground/dist/`). */
  readonly distDir?: string;
  /** Folder of the policies, whose `<policy>/<version>/cases.json` give each fixture's expected outcome (default: `cds-services/`). */
  readonly policyDir?: string;
  /** The built LHC-Forms renderer (default: the npm package's `dist/lforms/`). */
  readonly lformsDir?: string;
}

/** One entry of `GET /playground/fixtures`. */
export interface FixtureEntry {
  /** The fixture's name (src/library/fixtures.ts): `kp-wa-lumbar-mri/I.B-….json`. */
  readonly path: string;
  readonly description?: string;
  readonly hook?: string;
  /** The outcome its case table expects (`criteria-met`, `not-indicated`…), to group the list. */
  readonly outcome?: string;
}

/** The repository root, from `src/playground/` or from `dist/src/playground/`. */
function repositoryRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(join('dist', 'src')) ? resolve(here, '..', '..', '..') : resolve(here, '..', '..');
}

export const DEFAULT_PLAYGROUND_DIST = join(repositoryRoot(), 'playground', 'dist');
export const DEFAULT_FIXTURES_DIR = join(repositoryRoot(), 'fixtures');
export const DEFAULT_POLICY_DIR = join(repositoryRoot(), 'cds-services');
export const DEFAULT_LFORMS_DIST = join(repositoryRoot(), 'node_modules', 'lforms', 'dist', 'lforms');

/** Each fixture's expected outcome, from the case tables (`<policy>/<version>/cases.json`). */
export function caseOutcomes(policyDir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(policyDir)) return out;
  for (const version of versionFolders(policyDir)) {
    const file = join(version.dir, 'cases.json');
    if (!existsSync(file)) continue;
    try {
      const rows: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (!Array.isArray(rows)) continue;
      for (const r of rows) {
        if (r && typeof r === 'object' && typeof r.fixture === 'string' && typeof r.outcome === 'string') out.set(r.fixture, r.outcome);
      }
    } catch {
      // A case table that does not parse leaves its fixtures ungrouped; the policy tests report it.
    }
  }
  return out;
}

/** Hook requests in the fixture folders, by name; anything that is not a request is left out. */
export function listFixtures(folders: readonly FixtureFolder[]): FixtureEntry[] {
  const out: FixtureEntry[] = [];
  const walk = (folder: string, prefix: string): void => {
    for (const e of readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(folder, e.name);
      if (e.isDirectory()) walk(full, `${prefix}${e.name}/`);
      else if (e.isFile() && e.name.endsWith('.json')) {
        const entry = describeFixture(`${prefix}${e.name}`, full);
        if (entry) out.push(entry);
      }
    }
  };
  for (const f of folders) walk(f.dir, `${f.name}/`);
  return out;
}

function describeFixture(name: string, file: string): FixtureEntry | undefined {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const { description, hook, context } = json as { description?: unknown; hook?: unknown; context?: { draftOrders?: unknown } };
  if (!context || typeof context !== 'object' || !context.draftOrders) return undefined;
  return {
    path: name,
    ...(typeof description === 'string' ? { description } : {}),
    ...(typeof hook === 'string' ? { hook } : {}),
  };
}

/**
 * Routes under `/playground`: the page, `fixtures` (the index), `fixtures/<path>` (one request) and
 * `lforms/` (the form renderer's web component and its FHIR R4 support, as the npm package builds them).
 */
export function playgroundRouter(options: PlaygroundOptions = {}): Router {
  const distDir = resolve(options.distDir ?? DEFAULT_PLAYGROUND_DIST);
  const router = express.Router({ strict: true });

  const policyDir = resolve(options.policyDir ?? DEFAULT_POLICY_DIR);
  const folders = fixtureFolders(policyDir, resolve(options.fixturesDir ?? DEFAULT_FIXTURES_DIR));
  router.get('/fixtures', (_req, res) => {
    const outcomes = caseOutcomes(policyDir);
    res.json({ fixtures: listFixtures(folders).map((f) => (outcomes.has(f.path) ? { ...f, outcome: outcomes.get(f.path) } : f)) });
  });

  router.get('/fixtures/*path', (req, res, next) => {
    const name = (req.params as { path: string[] }).path.join('/');
    const file = fixtureFile(folders, name);
    // Only JSON requests inside a fixture folder: no `..`, no absolute paths, no other files.
    if (!file || !file.endsWith('.json') || !existsSync(file) || !describeFixture(name, file)) {
      next(notFound(`No fixture "${name}" (see GET /playground/fixtures)`));
      return;
    }
    res.type('application/json').send(readFileSync(file, 'utf8'));
  });

  router.get('/', (req, res, next) => {
    // Relative asset URLs need the trailing slash.
    if (!req.originalUrl.split('?')[0].endsWith('/')) {
      res.redirect(301, `${req.baseUrl}/`);
      return;
    }
    if (!existsSync(join(distDir, 'index.html'))) {
      next(notFound('The playground is not built: run `npm run build:playground` (or `npm run build`)'));
      return;
    }
    next();
  });
  const lformsDir = resolve(options.lformsDir ?? DEFAULT_LFORMS_DIST);
  for (const part of ['webcomponent', join('fhir', 'R4')]) {
    router.use(`/lforms/${part.split(sep).join('/')}`, express.static(join(lformsDir, part), { index: false, fallthrough: true }));
  }
  router.use(express.static(distDir, { index: 'index.html', fallthrough: true }));
  return router;
}
