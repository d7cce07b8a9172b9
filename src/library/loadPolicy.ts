import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { CriterionNode, PolicyVersion } from '../engine/types.js';
import { jsonPath, parseFile, PolicyLoadError, readJsonFile, type LoadProblem } from '../config/loadError.js';
import type { Assert, SchemaAgrees } from '../config/schemaAgrees.js';

const windowSchema = z.object({ from: isoDate().optional(), until: isoDate().optional() }).strict();

function isoDate() {
  return z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD');
}

const base = {
  id: z.string().min(1),
  text: z.string().min(1),
  label: z.string().min(1).max(100).optional(),
  contrast: z.enum(['without', 'with-and-without']).optional(),
  effective: windowSchema.optional(),
  cite: z.boolean().optional(),
  interpretation: z.string().optional(),
  unknownAs: z.literal(false).optional(),
};

// A criterion tree is recursive: `nodeSchema` parses the whole tree, `nodeLevel` one node whose
// children are `CriterionNode`s. Checking that one level against the engine's union (below) checks
// every level, so the parsed tree is a `CriterionNode` without a cast.
const nodeSchema: z.ZodType<CriterionNode> = z.lazy(() => nodeLevel);
const nodeLevel = z.discriminatedUnion('kind', [
  z.object({ ...base, kind: z.literal('all'), children: z.array(nodeSchema).min(1) }).strict(),
  z.object({ ...base, kind: z.literal('any'), children: z.array(nodeSchema).min(1) }).strict(),
  z.object({ ...base, kind: z.literal('atLeast'), n: z.number().int().positive(), children: z.array(nodeSchema).min(1) }).strict(),
  z.object({ ...base, kind: z.literal('not'), child: nodeSchema }).strict(),
  z.object({ ...base, kind: z.literal('fact'), fact: z.string().min(1) }).strict(),
  z.object({ ...base, kind: z.literal('ref'), ref: z.string().min(1) }).strict(),
]);

const outcome = z.enum(['criteria-met', 'no-review-required', 'documentation-missing', 'physician-review', 'not-indicated']);

const policySchema = z
  .object({
    policyId: z.string().regex(/^[a-z0-9-]+$/),
    version: z.string().min(1),
    title: z.string().min(1),
    shortTitle: z.string().min(1).max(40).optional(),
    payer: z.string().min(1),
    source: z.string().min(1),
    effective: windowSchema,
    kind: z.enum(['criteria', 'no-review-required']),
    noReviewReason: z.string().optional(),
    documentationToSend: z.string().optional(),
    exclusions: z.array(nodeSchema),
    indications: z.array(nodeSchema),
    reviews: z.array(nodeSchema),
    notices: z.array(
      z
        .object({
          id: z.string(),
          text: z.string(),
          when: nodeSchema,
          indicator: z.enum(['info', 'warning', 'critical']).optional(),
          interpretation: z.string().optional(),
        })
        .strict(),
    ),
    alternatives: z.array(
      z
        .object({
          id: z.string(),
          text: z.string(),
          when: nodeSchema,
          outcomes: z.array(outcome).optional(),
          unlessOrdered: z.array(z.string()).optional(),
          action: z.object({
            kind: z.enum(['change-order', 'replace-with-referral']),
            code: z.string(),
            system: z.string(),
            display: z.string(),
          }),
          isRecommended: z.boolean().optional(),
          interpretation: z.string().optional(),
        })
        .strict(),
    ),
    definitions: z.array(nodeSchema).optional(),
    redFlag: nodeSchema.optional(),
  })
  .strict();

// The build fails when policy.json's schema and the engine's types (src/engine/types.ts) part ways.
type _NodeAgrees = Assert<SchemaAgrees<typeof nodeLevel, CriterionNode>>;
type _PolicyAgrees = Assert<SchemaAgrees<typeof policySchema, PolicyVersion>>;

/** A policy folder's own files and folders; every other folder in it is a version folder. */
export const POLICY_FOLDER_FILES = { facts: 'facts.json', fixtures: 'fixtures', scenarios: 'scenarios' } as const;
/** The folder of shared facts, findings and value sets (not a policy). */
export const COMMON_FOLDER = 'common';

export interface VersionFolder {
  readonly policyId: string;
  /** The folder's name: the policy's `version`, exactly (checked at load). */
  readonly version: string;
  readonly dir: string;
}

/** `<dir>/<policy-id>/`: every folder of the library except `common/`. */
export function policyFolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== COMMON_FOLDER)
    .map((e) => e.name)
    .sort();
}

/** `<dir>/<policy-id>/<version>/`: every version folder, in name order. */
export function versionFolders(dir: string): VersionFolder[] {
  const own = new Set<string>([POLICY_FOLDER_FILES.fixtures, POLICY_FOLDER_FILES.scenarios]);
  return policyFolders(dir).flatMap((policyId) =>
    readdirSync(join(dir, policyId), { withFileTypes: true })
      .filter((e) => e.isDirectory() && !own.has(e.name))
      .map((e) => e.name)
      .sort()
      .map((version) => ({ policyId, version, dir: join(dir, policyId, version) })),
  );
}

/** Where a node sits in its policy file, for load errors. */
interface Placed {
  readonly node: CriterionNode;
  readonly at: readonly PropertyKey[];
}

/**
 * Parses and checks one policy version: schema, unique node ids, refs, and facts in the catalogue.
 * `knownFact` says whether the policy may use a fact (the common ones and its own), with the reason when not.
 */
export function parsePolicy(json: unknown, file: string, knownFact: (id: string) => true | string): PolicyVersion {
  const policy: PolicyVersion = parseFile(policySchema, json, file);
  const problems: LoadProblem[] = [];
  const problem = (at: readonly PropertyKey[], message: string): void => void problems.push({ file, path: jsonPath(at), message });
  const ids = new Map<string, CriterionNode>();
  const refs: Placed[] = [];
  const walk = (n: CriterionNode, at: readonly PropertyKey[]): void => {
    if (ids.has(n.id) && ids.get(n.id) !== n) problem([...at, 'id'], `node id ${n.id} is used twice`);
    ids.set(n.id, n);
    if (n.kind === 'fact') {
      const known = knownFact(n.fact);
      if (known !== true) problem([...at, 'fact'], `node ${n.id}: ${known}`);
    }
    if (n.kind === 'ref') refs.push({ node: n, at });
    if (n.kind === 'all' || n.kind === 'any' || n.kind === 'atLeast') n.children.forEach((c, i) => walk(c, [...at, 'children', i]));
    if (n.kind === 'atLeast' && n.n > n.children.length) problem([...at, 'n'], `node ${n.id}: needs ${n.n} of ${n.children.length}`);
    if (n.kind === 'not') walk(n.child, [...at, 'child']);
  };
  for (const key of ['exclusions', 'indications', 'reviews', 'definitions'] as const) (policy[key] ?? []).forEach((n, i) => walk(n, [key, i]));
  if (policy.redFlag) walk(policy.redFlag, ['redFlag']);
  policy.notices.forEach((r, i) => walk(r.when, ['notices', i, 'when']));
  policy.alternatives.forEach((r, i) => walk(r.when, ['alternatives', i, 'when']));
  for (const { node, at } of refs) if (node.kind === 'ref' && !ids.has(node.ref)) problem([...at, 'ref'], `node ${node.id}: ref to unknown node ${node.ref}`);
  if (policy.kind === 'no-review-required' && !policy.noReviewReason) problem(['noReviewReason'], 'noReviewReason is required');
  if (problems.length) throw new PolicyLoadError(problems);
  return policy;
}

/**
 * Every `<dir>/<policy-id>/<version>/policy.json`. A version folder is named by its policy's `version`
 * and sits in the folder named by its `policyId`; anything else is a load error.
 */
export function loadPolicies(dir: string, knownFact: (policyId: string, factId: string) => true | string): PolicyVersion[] {
  return versionFolders(dir).map(({ policyId, version, dir: folder }) => {
    const file = join(folder, 'policy.json');
    if (!existsSync(file)) throw new PolicyLoadError({ file, path: '', message: `missing: every folder of ${policyId}/ other than fixtures/ and scenarios/ is a version folder holding policy.json` });
    const policy = parsePolicy(readJsonFile(file), file, (factId) => knownFact(policyId, factId));
    if (policy.policyId !== policyId) throw new PolicyLoadError({ file, path: 'policyId', message: `"${policy.policyId}", but the policy folder is ${policyId}/ (a policy folder is named by its policyId)` });
    if (policy.version !== version) throw new PolicyLoadError({ file, path: 'version', message: `"${policy.version}", but the folder is ${version}/ (a version folder is named by its policy's version)` });
    return policy;
  });
}
