import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { FactCatalogue } from '../facts/catalogue.js';
import type { CriterionNode, PolicyVersion } from '../engine/types.js';

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

const nodeSchema: z.ZodType<CriterionNode> = z.lazy(() =>
  z.discriminatedUnion('kind', [
    z.object({ ...base, kind: z.literal('all'), children: z.array(nodeSchema).min(1) }).strict(),
    z.object({ ...base, kind: z.literal('any'), children: z.array(nodeSchema).min(1) }).strict(),
    z.object({ ...base, kind: z.literal('atLeast'), n: z.number().int().positive(), children: z.array(nodeSchema).min(1) }).strict(),
    z.object({ ...base, kind: z.literal('not'), child: nodeSchema }).strict(),
    z.object({ ...base, kind: z.literal('fact'), fact: z.string().min(1) }).strict(),
    z.object({ ...base, kind: z.literal('ref'), ref: z.string().min(1) }).strict(),
  ]),
) as z.ZodType<CriterionNode>;

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

/** A policy file that does not load: names the file and what to fix. */
export class PolicyLoadError extends Error {
  constructor(
    readonly file: string,
    problems: string[],
  ) {
    super(`${file}:\n  ${problems.join('\n  ')}`);
  }
}

/** Parses and checks one policy version: schema, unique node ids, refs, and facts in the catalogue. */
export function parsePolicy(json: unknown, file: string, facts: FactCatalogue): PolicyVersion {
  const parsed = policySchema.safeParse(json);
  if (!parsed.success) {
    throw new PolicyLoadError(
      file,
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    );
  }
  const policy = parsed.data as PolicyVersion;
  const problems: string[] = [];
  const ids = new Map<string, CriterionNode>();
  const refs: { from: string; to: string }[] = [];
  const walk = (n: CriterionNode): void => {
    if (ids.has(n.id) && ids.get(n.id) !== n) problems.push(`node id ${n.id} is used twice`);
    ids.set(n.id, n);
    if (n.kind === 'fact' && !facts.get(n.fact)) problems.push(`node ${n.id}: unknown fact ${n.fact}`);
    if (n.kind === 'ref') refs.push({ from: n.id, to: n.ref });
    if (n.kind === 'all' || n.kind === 'any' || n.kind === 'atLeast') n.children.forEach(walk);
    if (n.kind === 'atLeast' && n.n > n.children.length) problems.push(`node ${n.id}: needs ${n.n} of ${n.children.length}`);
    if (n.kind === 'not') walk(n.child);
  };
  [...policy.exclusions, ...policy.indications, ...policy.reviews, ...(policy.definitions ?? []), ...(policy.redFlag ? [policy.redFlag] : [])].forEach(walk);
  policy.notices.forEach((r) => walk(r.when));
  policy.alternatives.forEach((r) => walk(r.when));
  for (const r of refs) if (!ids.has(r.to)) problems.push(`node ${r.from}: ref to unknown node ${r.to}`);
  if (policy.kind === 'no-review-required' && !policy.noReviewReason) problems.push('noReviewReason is required');
  if (problems.length) throw new PolicyLoadError(file, problems);
  return policy;
}

/** Every `cds-services/<policy-id>/<version>/policy.json`. */
export function loadPolicies(dir: string, facts: FactCatalogue): PolicyVersion[] {
  const out: PolicyVersion[] = [];
  for (const policyDir of readdirSync(dir).sort()) {
    const p = join(dir, policyDir);
    if (!statSync(p).isDirectory()) continue;
    for (const version of readdirSync(p).sort()) {
      const file = join(p, version, 'policy.json');
      if (!existsSync(file)) continue;
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new PolicyLoadError(file, [`not JSON: ${(err as Error).message}`]);
      }
      out.push(parsePolicy(json, file, facts));
    }
  }
  return out;
}
