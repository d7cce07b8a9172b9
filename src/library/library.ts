import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFile, PolicyLoadError, readJsonFile } from '../config/loadError.js';
import { COMMON_FOLDER, loadPolicies, POLICY_FOLDER_FILES, policyFolders } from './loadPolicy.js';
import type { PolicyVersion } from '../engine/types.js';
import { FactCatalogue, factFileSchema, type FactDefinition, type FactFile } from '../facts/catalogue.js';
import { findingLexicon, findingsFileSchema, type FindingLexicon } from '../facts/findingWords.js';
import { Router, routingFileSchema } from '../routing/routing.js';
import { fhirValueSetSchema, fromFhirValueSets, ValueSetIndex, type FhirValueSet } from '../terminology/valueSets.js';

/**
 * Everything the service knows, loaded and checked once at start-up from `cds-services/` (layout and
 * conventions in cds-services/README.md). Whatever is wrong there is a PolicyLoadError naming the file and field.
 */
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

export function loadLibrary(dir: string = defaultPolicyDir(), routingFile?: string): PolicyLibrary {
  const common = join(dir, COMMON_FOLDER);
  const valueSetResources = loadValueSets(join(common, 'valuesets'));
  const valueSets = new ValueSetIndex(fromFhirValueSets(valueSetResources), valueSetResources);
  const { definitions, fileOf, ownerOf } = loadFactFiles(dir);
  // A policy, or a fact, uses the common facts and those of its own policy folder only.
  const mayUse = (user: string | undefined, factId: string): true | string => {
    const owner = ownerOf.get(factId);
    return owner === undefined || owner === user ? true : `fact ${factId} is ${owner}'s (${fileOf(factId)}); a fact used beyond its policy goes in ${COMMON_FOLDER}/facts.json`;
  };
  const facts = new FactCatalogue(definitions, valueSets, fileOf, (id, used) => mayUse(ownerOf.get(id), used));
  const policies = loadPolicies(dir, (policyId, factId) => (facts.get(factId) ? mayUse(policyId, factId) : `unknown fact ${factId}`));
  const routingPath = routingFile ?? join(dir, 'routing.json');
  const router = new Router(parseFile(routingFileSchema, readJsonFile(routingPath), routingPath), policies, valueSets, routingPath);
  const findingsPath = join(common, 'findings.json');
  const findings = findingLexicon(parseFile(findingsFileSchema, readJsonFile(findingsPath), findingsPath));
  return { dir, valueSets, facts, policies, router, findings };
}

/**
 * The shared facts (`common/facts.json`) and each policy's own (`<policy-id>/facts.json`, optional),
 * merged: a fact id is defined once in the whole library.
 */
function loadFactFiles(dir: string): { definitions: FactFile; fileOf: (id: string) => string; ownerOf: ReadonlyMap<string, string> } {
  const files = [
    { owner: undefined, file: join(dir, COMMON_FOLDER, POLICY_FOLDER_FILES.facts) },
    ...policyFolders(dir)
      .map((owner) => ({ owner, file: join(dir, owner, POLICY_FOLDER_FILES.facts) }))
      .filter(({ file }) => existsSync(file)),
  ];
  const definitions: Record<string, FactDefinition> = {};
  const fileOfId = new Map<string, string>();
  const ownerOf = new Map<string, string>();
  for (const { owner, file } of files) {
    for (const [id, def] of Object.entries(parseFile(factFileSchema, readJsonFile(file), file))) {
      const first = fileOfId.get(id);
      if (first !== undefined) throw new PolicyLoadError({ file, path: id, message: `fact ${id} is already defined in ${first}: a fact id is defined once` });
      definitions[id] = def;
      fileOfId.set(id, file);
      if (owner !== undefined) ownerOf.set(id, owner);
    }
  }
  return { definitions, fileOf: (id) => fileOfId.get(id) ?? files[0].file, ownerOf };
}

/** Every FHIR ValueSet in `cds-services/common/valuesets/` (one file per set, named by its id). */
export function loadValueSets(folder: string): FhirValueSet[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = join(folder, f);
      const vs = parseFile(fhirValueSetSchema, readJsonFile(file), file);
      if (`${vs.id}.json` !== f) throw new PolicyLoadError({ file, path: 'id', message: `${vs.id} does not match the file name` });
      return vs;
    });
}
