import { nodeIndex } from './nodes.js';
import type { Contrast, CriterionNode, EffectiveWindow, PolicyVersion } from './types.js';

/**
 * A node of a policy's criteria tree as the engine walks it, made once per policy: numbered, so
 * that an evaluation keeps node values and paths in arrays rather than maps keyed by node; its ref
 * resolved; and what the engine reads of it in one shape (the policy's nodes come in many, which
 * makes every property read in the engine's inner loops a slow one).
 */
export class CompiledNode {
  readonly kind: CriterionNode['kind'];
  readonly id: string;
  readonly text: string;
  /** The fact a fact node reads; '' for other nodes. */
  readonly fact: string;
  /** How many children an atLeast node needs; 0 for other nodes. */
  readonly n: number;
  readonly cited: boolean;
  readonly contrast: Contrast | undefined;
  readonly effective: EffectiveWindow | undefined;
  readonly unknownAsFalse: boolean;
  /**
   * The children of all / any / atLeast, the child of not, the target of a ref; none for a fact or a
   * ref to no node. Filled in by compilePolicy, never changed after.
   */
  readonly children: CompiledNode[] = [];
  /** `[this]` for a leaf (fact or not): the leaves of its own path, shared by every evaluation. */
  readonly asLeaves: readonly CompiledNode[];

  constructor(
    readonly node: CriterionNode,
    /** This node's slot in an evaluation's arrays (0 … CompiledPolicy.size - 1). */
    readonly index: number,
    /** A leaf's path-step key (the fact, or `not:<id>`); '' for other nodes. */
    readonly key: string,
    /** The key as a number (equal keys, equal numbers: 0 … CompiledPolicy.keys - 1); -1 for other nodes. */
    readonly keyId: number,
  ) {
    this.kind = node.kind;
    this.id = node.id;
    this.text = node.text;
    this.fact = node.kind === 'fact' ? node.fact : '';
    this.n = node.kind === 'atLeast' ? node.n : 0;
    this.cited = node.cite === true;
    this.contrast = node.contrast;
    this.effective = node.effective;
    this.unknownAsFalse = node.unknownAs === false;
    this.asLeaves = keyId >= 0 ? [this] : [];
  }
}

export interface CompiledPolicy {
  readonly policy: PolicyVersion;
  /** Nodes numbered (each node object of the policy once). */
  readonly size: number;
  /** Distinct path-step keys. */
  readonly keys: number;
  readonly exclusions: readonly CompiledNode[];
  readonly indications: readonly CompiledNode[];
  readonly reviews: readonly CompiledNode[];
  /** The `when` of each notice and of each alternative, in the policy's order. */
  readonly notices: readonly CompiledNode[];
  readonly alternatives: readonly CompiledNode[];
  readonly redFlag?: CompiledNode;
  /** Every fact the red flag reads, through refs. */
  readonly redFlagFacts: ReadonlySet<string>;
}

const COMPILED = new WeakMap<PolicyVersion, CompiledPolicy>();

/** The policy version compiled for the engine, once per immutable policy (as nodeIndex). */
export function compilePolicy(policy: PolicyVersion): CompiledPolicy {
  const known = COMPILED.get(policy);
  if (known) return known;
  const byId = nodeIndex(policy);
  const byNode = new Map<CriterionNode, CompiledNode>();
  const keyIds = new Map<string, number>();
  const refs: CompiledNode[] = [];
  const compile = (n: CriterionNode): CompiledNode => {
    const seen = byNode.get(n);
    if (seen) return seen;
    const key = n.kind === 'fact' ? n.fact : n.kind === 'not' ? `not:${n.id}` : '';
    const keyId = key === '' ? -1 : (keyIds.get(key) ?? keyIds.size);
    if (key !== '') keyIds.set(key, keyId);
    const c = new CompiledNode(n, byNode.size, key, keyId);
    byNode.set(n, c);
    if (n.kind === 'all' || n.kind === 'any' || n.kind === 'atLeast') for (const child of n.children) c.children.push(compile(child));
    else if (n.kind === 'not') c.children.push(compile(n.child));
    else if (n.kind === 'ref') refs.push(c);
    return c;
  };
  const exclusions = policy.exclusions.map(compile);
  const indications = policy.indications.map(compile);
  const reviews = policy.reviews.map(compile);
  const notices = policy.notices.map((r) => compile(r.when));
  const alternatives = policy.alternatives.map((r) => compile(r.when));
  const redFlag = policy.redFlag ? compile(policy.redFlag) : undefined;
  (policy.definitions ?? []).forEach(compile);
  for (const c of refs) {
    const target = c.node.kind === 'ref' ? byId.get(c.node.ref) : undefined;
    // A ref to no node stays without a target: the engine names it when it evaluates the ref.
    if (target) c.children.push(compile(target));
  }
  const compiled: CompiledPolicy = {
    policy,
    size: byNode.size,
    keys: keyIds.size,
    exclusions,
    indications,
    reviews,
    notices,
    alternatives,
    redFlag,
    redFlagFacts: redFlag ? factsUnder(redFlag) : new Set(),
  };
  COMPILED.set(policy, compiled);
  return compiled;
}

/** Every fact a node reads, through refs. */
function factsUnder(root: CompiledNode): Set<string> {
  const out = new Set<string>();
  const seen = new Set<CompiledNode>();
  const walk = (c: CompiledNode): void => {
    if (seen.has(c)) return;
    seen.add(c);
    if (c.kind === 'fact') out.add(c.fact);
    c.children.forEach(walk);
  };
  walk(root);
  return out;
}
