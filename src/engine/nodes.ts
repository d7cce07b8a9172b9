import type { CriterionNode, PolicyVersion } from './types.js';

const NODE_INDEX = new WeakMap<PolicyVersion, ReadonlyMap<string, CriterionNode>>();

/**
 * Every node of a policy version by outline number (sections, definitions, notice and alternative
 * conditions), built once per immutable policy: `ref` nodes are followed and labels read through it.
 */
export function nodeIndex(policy: PolicyVersion): ReadonlyMap<string, CriterionNode> {
  const known = NODE_INDEX.get(policy);
  if (known) return known;
  const index = new Map<string, CriterionNode>();
  const walk = (n: CriterionNode): void => {
    if (!index.has(n.id)) index.set(n.id, n);
    if (n.kind === 'all' || n.kind === 'any' || n.kind === 'atLeast') n.children.forEach(walk);
    if (n.kind === 'not') walk(n.child);
  };
  [...policy.exclusions, ...policy.indications, ...policy.reviews, ...(policy.definitions ?? []), ...(policy.redFlag ? [policy.redFlag] : [])].forEach(walk);
  policy.notices.forEach((r) => walk(r.when));
  policy.alternatives.forEach((r) => walk(r.when));
  NODE_INDEX.set(policy, index);
  return index;
}
