import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicies } from './loadPolicy.js';
import type { PolicyVersion } from '../engine/types.js';
import { FactCatalogue, factFileSchema } from '../facts/catalogue.js';
import { findingLexicon, findingsFileSchema, type FindingLexicon } from '../facts/findingWords.js';
import { Router, routingFileSchema } from '../routing/routing.js';
import { fhirValueSetSchema, fromFhirValueSets, ValueSetIndex, type FhirValueSet } from '../terminology/valueSets.js';

/** Everything the service knows, loaded and checked once at start-up from `cds-services/`. */
export interface PolicyLibrary {
  readonly dir: string;
  readonly valueSets: ValueSetIndex;
  readonly facts: FactCatalogue;
  readonly policies: readonly PolicyVersion[];
  readonly router: Router;
  /** The words of each documentation finding and the question that asks for it. */
  readonly findings: FindingLexicon;
}

/** The repository's own `cds-services/` folder, from `src/` or from `dist/src/`. */
export function defaultPolicyDir(): string {
  // This file is src/library/library.ts, or dist/src/library/library.js once built.
  const here = dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${join('dist', 'src')}`) ? join(here, '..', '..', '..') : join(here, '..', '..');
  return resolve(up, 'cds-services');
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

function parse<T>(schema: { safeParse(x: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, json: unknown, file: string): T {
  const r = schema.safeParse(json);
  if (!r.success) throw new Error(`${file}:\n  ${r.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('\n  ')}`);
  return r.data;
}

export function loadLibrary(dir: string = defaultPolicyDir(), routingFile?: string): PolicyLibrary {
  const valueSetResources = loadValueSets(join(dir, 'valuesets'));
  const valueSets = new ValueSetIndex(fromFhirValueSets(valueSetResources), valueSetResources);
  const facts = new FactCatalogue(parse(factFileSchema, readJson(join(dir, 'facts.json')), join(dir, 'facts.json')), valueSets);
  const policies = loadPolicies(dir, facts);
  const routingPath = routingFile ?? join(dir, 'routing.json');
  const router = new Router(parse(routingFileSchema, readJson(routingPath), routingPath), policies, valueSets);
  const findings = findingLexicon(parse(findingsFileSchema, readJson(join(dir, 'findings.json')), join(dir, 'findings.json')));
  return { dir, valueSets, facts, policies, router, findings };
}

/** Every FHIR ValueSet in `cds-services/valuesets/` (one file per set, named by its id). */
export function loadValueSets(folder: string): FhirValueSet[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = join(folder, f);
      const vs = parse(fhirValueSetSchema, readJson(file), file);
      if (`${vs.id}.json` !== f) throw new Error(`${file}: id ${vs.id} does not match the file name`);
      return vs;
    });
}
