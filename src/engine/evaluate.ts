import { atLeastCounted, inWindow, not3 } from './logic.js';
import { compilePolicy, type CompiledNode, type CompiledPolicy } from './compiled.js';
import { nodeIndex } from './nodes.js';
import type {
  AlternativeRule,
  Contrast,
  CriterionNode,
  DecisionOutcome,
  NoticeRule,
  PolicyVersion,
  Truth,
} from './types.js';

/** What the engine needs to know about facts; it knows nothing of FHIR. */
export interface FactProvider {
  /** The fact's value, computed once per request by the provider. */
  fact(id: string): { readonly value: Truth; readonly evidence: readonly string[] };
  /** A diagnosis, finding or test (true), or context such as the episode's duration (false). */
  isSpecific(id: string): boolean;
  /** Context no care can change before this order (episode duration, age); optional. */
  isFixed?(id: string): boolean;
  /** Care completed on record that, when true, points down the paths it serves (not a diagnosis); optional. */
  pointsToPath?(id: string): boolean;
}

/** One node's value, mirroring the policy tree (json-rules-engine style). */
export interface NodeResult {
  readonly id: string;
  readonly text: string;
  readonly kind: CriterionNode['kind'];
  readonly value: Truth;
  readonly inForce: boolean;
  readonly fact?: string;
  readonly evidence: readonly string[];
  readonly children?: readonly NodeResult[];
}

/** A leaf on a path to approval: a fact, or a negated criterion. */
export interface PathStep {
  readonly key: string;
  readonly fact?: string;
  readonly value: Truth;
  /** The leaf's own outline number and words. */
  readonly leafId: string;
  readonly leafText: string;
  /** The criterion this leaf serves: the nearest cited node above it. */
  readonly criterionId: string;
  readonly criterionText: string;
  readonly served?: boolean;
}

/** A way to satisfy an indication: the leaves it needs and what is still open. */
export interface CandidatePath {
  readonly sectionId: string;
  /** The outline numbers of the criterion this path goes through, outermost first. */
  readonly chain: readonly string[];
  readonly cited: { readonly id: string; readonly text: string };
  readonly steps: readonly PathStep[];
  readonly unknown: readonly PathStep[];
  readonly failed: readonly PathStep[];
}

/** A criterion of the policy, by its outline number and words, with the outline numbers down to it. */
export interface DecidingCriterion {
  readonly kind: 'criterion';
  readonly id: string;
  readonly text: string;
  readonly chain: readonly string[];
}

/** What the engine decides: never `no-review-required` (a policy of that kind is not evaluated). */
export type EngineOutcome = Exclude<DecisionOutcome, 'no-review-required'>;

export interface EngineResult {
  readonly outcome: EngineOutcome;
  /** The criterion that decided: met, excluded, or sent to review. */
  readonly decidedBy?: DecidingCriterion;
  /** Resources that supplied the deciding facts (`Type/id`). */
  readonly evidence: readonly string[];
  /** Documentation missing: the shortest paths first. */
  readonly missing: readonly CandidatePath[];
  /** Not indicated: the closest paths this patient can still reach, and what they lack. */
  readonly wouldChange: readonly CandidatePath[];
  /** Not indicated or review: the closest paths of all and what the record showed against them. */
  readonly failedPaths?: readonly CandidatePath[];
  /** Documentation missing for an undetermined non-indication: the criterion that is otherwise met. */
  readonly blockedApproval?: { readonly id: string; readonly text: string; readonly chain: readonly string[] };
  /** Contrast named by the criterion met (or by the path asked for). */
  readonly contrast?: Contrast;
  readonly notices: readonly NoticeRule[];
  readonly alternatives: readonly AlternativeRule[];
  /** Every section's result tree, for the record and for reviewers. */
  readonly trace: readonly NodeResult[];
}

const PATHS_KEPT_PER_NODE = 8;

/**
 * `viable`: paths with no false leaf (documentation missing). A node whose value is false has none:
 * every path through it holds a false leaf, so the search never enters it.
 * `changeable`: paths that care could still complete (what would change the answer): every leaf
 * allowed except a false fixed fact (the episode's duration, the patient's age).
 */
type PathMode = 'viable' | 'changeable';

/**
 * A way to make a node true, as the search builds it: a leaf, a node above a path (wrap), or two
 * paths taken together (join); the empty path has none. The search needs only the distinct leaves
 * and the cost; the chain and each step's criterion are read off this derivation for the few paths
 * a result shows (toCandidate), so wrapping a path or joining two costs one object and one array.
 */
class Path {
  constructor(
    /** The leaf, or the node above `inner`; none for a join. */
    readonly node: CompiledNode | undefined,
    /** Wrap: the path below `node`; join: the first path. */
    readonly inner: Path | undefined,
    /** Join: the second path. */
    readonly right: Path | undefined,
    /** The leaves, one per step key, in the order the steps are listed. */
    readonly leaves: readonly CompiledNode[],
    /** Open leaves (unknown 1, false 100), kept so ranking never recounts. */
    readonly cost: number,
    /** The deepest cited criterion on the path (the outermost node until one is found); none for the empty path. */
    readonly cited: CompiledNode | undefined,
    readonly citedFound: boolean,
  ) {}
}

const EMPTY_PATH = new Path(undefined, undefined, undefined, [], 0, undefined, false);
const ONLY_EMPTY_PATH: readonly Path[] = Object.freeze([EMPTY_PATH]);
const NO_PATHS: readonly Path[] = Object.freeze([]);

/** A section's path as ranking sees it: its open items counted; made a CandidatePath only when shown. */
class Option {
  candidate: CandidatePath | undefined;
  constructor(
    readonly section: CompiledNode,
    readonly path: Path,
    readonly failed: number,
    readonly unknown: number,
  ) {}
}

const openItems = (o: Option): number => o.failed + o.unknown;
const unknownItems = (o: Option): number => o.unknown;

/**
 * Evaluates one policy version at a date of service. Pure: no clock, no I/O, no logging.
 * Order of judgement: exclusions, indications, physician review, documentation missing, not indicated.
 */
export function evaluatePolicy(
  policy: PolicyVersion,
  facts: FactProvider,
  dateOfService: string,
  orderedCode?: string,
): EngineResult {
  const compiled = compilePolicy(policy);
  const ev = new Evaluator(compiled, facts, dateOfService);
  const exclusions = compiled.exclusions.map((c) => ev.node(c));
  const indications = compiled.indications.map((c) => ev.node(c));
  const reviews = compiled.reviews.map((c) => ev.node(c));
  const trace = [...exclusions, ...indications, ...reviews];
  const notices = policy.notices.filter((_, i) => ev.node(compiled.notices[i]).value === true);

  const finish = (
    outcome: EngineOutcome,
    rest: Omit<EngineResult, 'outcome' | 'notices' | 'alternatives' | 'trace'>,
  ): EngineResult => ({
    outcome,
    ...rest,
    notices,
    alternatives: policy.alternatives.filter(
      (a, i) =>
        (!a.outcomes || a.outcomes.includes(outcome)) &&
        !(orderedCode && a.unlessOrdered?.includes(orderedCode)) &&
        ev.node(compiled.alternatives[i]).value === true,
    ),
    trace,
  });

  /** The first node of a list that is true decides, citing itself. */
  const decidedByFirstTrue = (nodes: readonly CriterionNode[], results: readonly NodeResult[], outcome: EngineOutcome) => {
    const i = results.findIndex((r) => r.value === true);
    if (i < 0) return undefined;
    const node = nodes[i];
    return finish(outcome, {
      decidedBy: { kind: 'criterion', id: node.id, text: node.text, chain: [node.id] },
      evidence: results[i].evidence,
      missing: [],
      wouldChange: [],
    });
  };

  // A red flag on record or in the order's reason is never denied (contract section 6).
  const redFlag = compiled.redFlag ? ev.node(compiled.redFlag) : undefined;
  const flagged = redFlag?.value === true;
  const redFlagFacts = compiled.redFlagFacts;
  const flagCited = (): DecidingCriterion | undefined =>
    policy.redFlag ? { kind: 'criterion', id: policy.redFlag.id, text: policy.redFlag.text, chain: [policy.redFlag.id] } : undefined;

  // What would change a denial or a review, and what failed: computed once, and only for a result that shows them.
  let changeOptions: { closest: Option[]; reachable: Option[] } | undefined;
  const changePaths = (): { closest: Option[]; reachable: Option[] } => {
    if (changeOptions) return changeOptions;
    // Paths this patient can still reach: every failed leaf is care still to give (not a diagnosis the
    // record rules out, not a negated criterion such as a prior MRI), and no red-flag path without a red flag.
    const flagFacts = flagged ? NO_FACTS : redFlagFacts;
    const closest = ev.options('changeable').filter((o) => o.failed + o.unknown > 0);
    const reachable = closest.filter((o) => ev.reachable(o, flagFacts));
    return (changeOptions = { closest, reachable });
  };
  /** The closest paths this patient can reach (or, with none, what documentation alone would change). */
  const findWouldChange = (): CandidatePath[] => {
    const { closest, reachable } = changePaths();
    // Shortest first, and only paths within two items of the shortest (a path of seven items, e.g. the
    // ankylosing spondylitis criteria for a 99-year-old, is not what would change this answer).
    // With nothing reachable by care, what documentation alone would change (e.g. acute pain: the red flags).
    const ways = reachable.length ? reachable : closest.filter((o) => o.failed === 0);
    return ev.candidates(ev.rankDistinct(ways, openItems, 3, 2));
  };
  /** What failed: criteria the record rules out now, those this patient can reach first. */
  const findFailedPaths = (): CandidatePath[] => {
    const { closest, reachable } = changePaths();
    const failedOf = (list: Option[]) => ev.rankDistinct(list.filter((o) => o.failed > 0), openItems, 3);
    const failedReachable = failedOf(reachable);
    return ev.candidates(failedReachable.length ? failedReachable : failedOf(closest));
  };

  const excluded = decidedByFirstTrue(policy.exclusions, exclusions, flagged ? 'physician-review' : 'not-indicated');
  if (excluded) {
    if (flagged) return { ...excluded, evidence: [...new Set([...excluded.evidence, ...(redFlag?.evidence ?? [])])] };
    // What would change a denial (e.g. acute pain: the red flags); none when an indication is met and the exclusion alone decides.
    return { ...excluded, wouldChange: indications.some((r) => r.value === true) ? [] : findWouldChange() };
  }

  // A non-indication the record leaves undetermined blocks automatic approval: it asks for the facts that decide it.
  const undecided: CandidatePath[] = [];
  for (let i = 0; i < compiled.exclusions.length; i++) {
    if (exclusions[i].value !== null) continue;
    const candidate = ev.decidingCandidate(compiled.exclusions[i]);
    if (candidate) undecided.push(candidate);
  }

  for (let i = 0; i < compiled.indications.length; i++) {
    if (indications[i].value === true) {
      const met = ev.metChain(compiled.indications[i]);
      if (undecided.length > 0) {
        return finish('documentation-missing', {
          decidedBy: { kind: 'criterion', id: undecided[0].cited.id, text: undecided[0].cited.text, chain: undecided[0].chain },
          evidence: indications[i].evidence,
          contrast: met.contrast,
          missing: undecided,
          wouldChange: [],
          blockedApproval: { id: met.cited.id, text: met.cited.text, chain: met.chain },
        });
      }
      return finish('criteria-met', {
        decidedBy: { kind: 'criterion', id: met.cited.id, text: met.cited.text, chain: met.chain },
        evidence: indications[i].evidence,
        contrast: met.contrast,
        missing: [],
        wouldChange: [],
      });
    }
  }

  const review = decidedByFirstTrue(policy.reviews, reviews, 'physician-review');
  if (review) return review;

  // Documentation missing only for a path the record already points down: no leaf false, and at least
  // one specific leaf (diagnosis, finding, test) true, or a red flag on record (it points down every path).
  const open = ev.options('viable').filter((o) => o.failed === 0 && o.unknown > 0);
  const pointed = open.filter((o) => ev.pointsDown(o));
  // With a red flag and no path its record points down, a path that needs no other red flag (e.g. the
  // urgent-surgery path of KP II.A): the flag is never denied for want of paperwork.
  const candidates = pointed.length > 0 || !flagged ? pointed : open.filter((o) => !ev.asksFor(o, redFlagFacts));
  const missing = ev.candidates(ev.rankDistinct(candidates, unknownItems, 3));
  if (missing.length > 0) {
    const best = missing[0];
    return finish('documentation-missing', {
      decidedBy: { kind: 'criterion', id: best.cited.id, text: best.cited.text, chain: best.chain },
      evidence: [...new Set([...evidenceOf(best, facts), ...(flagged ? (redFlag?.evidence ?? []) : [])])],
      contrast: ev.contrastOfChain(best.chain),
      missing,
      wouldChange: [],
    });
  }

  const wouldChange = findWouldChange();
  const failedPaths = findFailedPaths();
  if (flagged) {
    const by = flagCited();
    return finish('physician-review', { decidedBy: by, evidence: redFlag?.evidence ?? [], missing: [], wouldChange, failedPaths });
  }
  return finish('not-indicated', { decidedBy: undefined, evidence: [], missing: [], wouldChange, failedPaths });
}

const NO_FACTS: ReadonlySet<string> = new Set();

function evidenceOf(c: CandidatePath, facts: FactProvider): string[] {
  const out = new Set<string>();
  for (const s of c.steps) if (s.value === true && s.fact) for (const e of facts.fact(s.fact).evidence) out.add(e);
  return [...out];
}

/**
 * What one evaluation has learnt of its nodes' paths in one mode, by node index: the paths once
 * built; before that, whether there are any (hasPaths); undefined when not asked yet.
 */
type PathMemo = (readonly Path[] | boolean | undefined)[];

class Evaluator {
  private readonly byId: ReadonlyMap<string, CriterionNode>;
  private readonly results: (NodeResult | undefined)[];
  private readonly memo: { viable?: PathMemo; changeable?: PathMemo } = {};
  /** Marks by step key number: a key is in the set being built when its mark is the current one. */
  private readonly marks: number[];
  /** Marks by node index for pointedTo (made on first use): a node is visited when its mark is the current one. */
  private visited: number[] | undefined;
  /** The last mark given out: each set built or walk made takes the next. */
  private mark = 0;

  constructor(
    private readonly compiled: CompiledPolicy,
    private readonly facts: FactProvider,
    private readonly dateOfService: string,
  ) {
    this.byId = nodeIndex(compiled.policy);
    this.results = new Array<NodeResult | undefined>(compiled.size);
    // Plain arrays: a typed array this size would take an off-heap buffer per evaluation.
    this.marks = new Array<number>(compiled.keys).fill(0);
  }

  /** A ref's target. */
  private target(c: CompiledNode): CompiledNode {
    const target = c.children[0];
    if (!target || c.node.kind !== 'ref') {
      const ref = c.node.kind === 'ref' ? c.node.ref : c.id;
      throw new Error(`policy ${this.compiled.policy.policyId} ${this.compiled.policy.version}: ref to unknown node ${ref}`);
    }
    return target;
  }

  node(c: CompiledNode): NodeResult {
    const memo = this.results[c.index];
    if (memo) return memo;
    const computed = this.compute(c);
    // "No red flag" judged on what is on record: an undocumented item counts as absent here, unless
    // the record already points toward it (a specific fact true on an open branch, e.g. fever with
    // the infection suspicion undocumented): then it stays undetermined and is asked for.
    const r = c.unknownAsFalse && computed.value === null && !this.pointedTo(c) ? { ...computed, value: false } : computed;
    this.results[c.index] = r;
    return r;
  }

  private compute(c: CompiledNode): NodeResult {
    if (c.effective !== undefined && !inWindow(this.dateOfService, c.effective)) return result(c, false, false, NONE);
    switch (c.kind) {
      case 'fact': {
        const f = this.facts.fact(c.fact);
        return { id: c.id, text: c.text, kind: c.kind, fact: c.fact, value: f.value, inForce: true, evidence: f.value === true ? f.evidence : NONE };
      }
      case 'ref': {
        const t = this.node(this.target(c));
        return result(c, t.value, t.inForce, t.evidence, [t]);
      }
      case 'not': {
        const child = this.node(c.children[0]);
        return result(c, not3(child.value), true, NONE, [child]);
      }
      case 'all':
      case 'any':
      case 'atLeast': {
        const count = c.children.length;
        const children: NodeResult[] = new Array(count);
        let t = 0;
        let u = 0;
        for (let i = 0; i < count; i++) {
          const child = this.node(c.children[i]);
          children[i] = child;
          if (child.value === true) t++;
          else if (child.value === null) u++;
        }
        const value = atLeastCounted(c.kind === 'all' ? count : c.kind === 'any' ? 1 : c.n, t, u);
        let evidence: readonly string[] = NONE;
        if (value === true) {
          const set = new Set<string>();
          for (const child of children) if (child.value === true) for (const e of child.evidence) set.add(e);
          evidence = [...set];
        }
        return result(c, value, true, evidence, children);
      }
    }
  }

  /** The branch taken through a true node: first true child of ANY, every child of ALL. */
  metChain(root: CompiledNode): { chain: string[]; cited: { id: string; text: string }; contrast?: Contrast } {
    const chain: string[] = [];
    let cited = { id: root.id, text: root.text };
    let contrast: Contrast | undefined;
    const visit = (c: CompiledNode, insideRef: boolean): void => {
      if (this.node(c).value !== true) return;
      if (c.kind === 'fact' || c.kind === 'not') {
        if (c.cited && !insideRef) cited = { id: c.id, text: c.text };
        if (c.contrast) contrast = c.contrast;
        if (c.cited) chain.push(c.id);
        return;
      }
      chain.push(c.id);
      // Through a ref ("ONE or more of the criteria under section I") the referring criterion is cited.
      if (c.cited && !insideRef) cited = { id: c.id, text: c.text };
      if (c.contrast) contrast = c.contrast;
      if (c.kind === 'ref') return visit(this.target(c), true);
      if (c.kind === 'any') {
        const first = c.children.find((child) => this.node(child).value === true);
        if (first) visit(first, insideRef);
        return;
      }
      for (const child of c.children) visit(child, insideRef);
    };
    visit(root, false);
    return { chain, cited, contrast };
  }

  /** An open node the record points toward: a specific fact true on a branch not already false. */
  private pointedTo(root: CompiledNode): boolean {
    const visited = (this.visited ??= new Array<number>(this.compiled.size).fill(0));
    const seen = ++this.mark;
    const at = (c: CompiledNode, value: Truth): boolean => {
      if (visited[c.index] === seen || value === false) return false;
      visited[c.index] = seen;
      if (c.kind === 'fact') return value === true && this.facts.isSpecific(c.fact);
      if (c.kind === 'not') return false;
      // The children, or a ref's target.
      for (const child of c.children) if (at(child, this.node(child).value)) return true;
      return false;
    };
    return at(root, null);
  }

  /** The open leaves that decide an undetermined non-indication, as a path citing it. */
  decidingCandidate(root: CompiledNode): CandidatePath | undefined {
    const steps = new Map<string, PathStep>();
    const { id, text } = root;
    const walk = (c: CompiledNode): void => {
      const r = this.node(c);
      if (r.value !== null || !r.inForce) return;
      if (c.kind === 'fact') {
        steps.set(c.fact, { key: c.fact, fact: c.fact, value: null, leafId: c.id, leafText: c.text, criterionId: id, criterionText: text, served: true });
      } else if (c.kind === 'ref') walk(this.target(c));
      else c.children.forEach(walk);
    };
    walk(root);
    const unknown = [...steps.values()];
    if (unknown.length === 0) return undefined;
    return { sectionId: id, chain: [id], cited: { id, text }, steps: unknown, unknown, failed: [] };
  }

  contrastOfChain(chain: readonly string[]): Contrast | undefined {
    let contrast: Contrast | undefined;
    for (const id of chain) contrast = this.byId.get(id)?.contrast ?? contrast;
    return contrast;
  }

  /** Every section's paths in a mode, in policy order, their open items counted. */
  options(mode: PathMode): Option[] {
    const out: Option[] = [];
    for (const section of this.compiled.indications) {
      for (const path of this.paths(section, mode)) {
        let failed = 0;
        let unknown = 0;
        for (const leaf of path.leaves) {
          const value = this.valueOf(leaf);
          if (value === false) failed++;
          else if (value === null) unknown++;
        }
        out.push(new Option(section, path, failed, unknown));
      }
    }
    return out;
  }

  /** Care could complete it: every failed leaf a fact that is no diagnosis, and no open leaf among `flagFacts`. */
  reachable(o: Option, flagFacts: ReadonlySet<string>): boolean {
    for (const leaf of o.path.leaves) {
      const value = this.valueOf(leaf);
      if (value === true) continue;
      if (value === false && (leaf.kind !== 'fact' || this.facts.isSpecific(leaf.fact))) return false;
      if (leaf.kind === 'fact' && flagFacts.has(leaf.fact)) return false;
    }
    return true;
  }

  /** The record points down it: a true fact that is specific (or care that points to its path). */
  pointsDown(o: Option): boolean {
    for (const leaf of o.path.leaves) {
      if (leaf.kind !== 'fact' || this.valueOf(leaf) !== true) continue;
      if (this.facts.isSpecific(leaf.fact) || (this.facts.pointsToPath?.(leaf.fact) ?? false)) return true;
    }
    return false;
  }

  /** It asks for one of these facts (an unknown leaf). */
  asksFor(o: Option, facts: ReadonlySet<string>): boolean {
    for (const leaf of o.path.leaves) if (leaf.kind === 'fact' && this.valueOf(leaf) === null && facts.has(leaf.fact)) return true;
    return false;
  }

  /**
   * Best first by cost, then policy order; drops options asking for the same set of items. The first
   * `limit`, none dearer than the best by more than `slack`.
   */
  rankDistinct(options: readonly Option[], cost: (o: Option) => number, limit: number, slack = Infinity): Option[] {
    // Sorted by insertion (stable, so policy order on ties): a few dozen options at most.
    const order: number[] = [];
    for (let i = 0; i < options.length; i++) {
      const c = cost(options[i]);
      let at = order.length;
      while (at > 0 && cost(options[order[at - 1]]) > c) {
        order[at] = order[at - 1];
        at--;
      }
      order[at] = i;
    }
    const out: Option[] = [];
    for (const i of order) {
      if (out.length === limit || cost(options[i]) > cost(options[order[0]]) + slack) break;
      if (out.some((kept) => this.asksSame(kept.path, options[i].path))) continue;
      out.push(options[i]);
    }
    return out;
  }

  /** Whether two paths ask for the same set of items (their unknown and failed step keys). */
  private asksSame(a: Path, b: Path): boolean {
    const inA = ++this.mark;
    let open = 0;
    for (const leaf of a.leaves) {
      if (this.valueOf(leaf) === true) continue;
      this.marks[leaf.keyId] = inA;
      open++;
    }
    for (const leaf of b.leaves) {
      if (this.valueOf(leaf) === true) continue;
      if (this.marks[leaf.keyId] !== inA) return false;
      open--;
    }
    return open === 0;
  }

  candidates(options: readonly Option[]): CandidatePath[] {
    return options.map((o) => (o.candidate ??= this.toCandidate(o.section.id, o.path)));
  }

  /**
   * A path as a result shows it: the outline numbers down it (outermost first) and its steps in order,
   * each labelled with the criterion it serves, the nearest cited node above it.
   */
  private toCandidate(sectionId: string, p: Path): CandidatePath {
    const chain: string[] = [];
    const steps: PathStep[] = [];
    const listed = ++this.mark;
    const visit = (q: Path, criterion: CompiledNode | undefined): void => {
      const c = q.node;
      if (c === undefined) {
        // A join (or the empty path): the first path's steps, then the second's not already listed.
        if (q.inner) visit(q.inner, criterion);
        if (q.right) visit(q.right, criterion);
        return;
      }
      chain.push(c.id);
      if (q.inner) return visit(q.inner, c.cited ? c : criterion);
      if (this.marks[c.keyId] === listed) return;
      this.marks[c.keyId] = listed;
      steps.push(this.step(c, criterion));
    };
    visit(p, undefined);
    return {
      sectionId,
      chain,
      cited: p.cited ? { id: p.cited.id, text: p.cited.text } : { id: '', text: '' },
      steps,
      unknown: steps.filter((s) => s.value === null),
      failed: steps.filter((s) => s.value === false),
    };
  }

  /** A leaf's step: a fact, or a negated criterion (kept whole, keyed by its id). */
  private step(leaf: CompiledNode, criterion: CompiledNode | undefined): PathStep {
    const value = this.valueOf(leaf);
    const served = leaf.cited || criterion !== undefined;
    const by = leaf.cited || criterion === undefined ? leaf : criterion;
    return leaf.kind === 'fact'
      ? { key: leaf.key, fact: leaf.fact, value, leafId: leaf.id, leafText: leaf.text, criterionId: by.id, criterionText: by.text, served }
      : { key: leaf.key, value, leafId: leaf.id, leafText: leaf.text, criterionId: by.id, criterionText: by.text, served };
  }

  /** A node's value, once computed (every node on a path is). */
  private valueOf(c: CompiledNode): Truth {
    const r = this.results[c.index];
    if (!r) throw new Error(`node ${c.id} read before it was evaluated`);
    return r.value;
  }

  private memoOf(mode: PathMode): PathMemo {
    const known = this.memo[mode];
    if (known) return known;
    const created: PathMemo = new Array<undefined>(this.compiled.size);
    this.memo[mode] = created;
    return created;
  }

  /** Minimal sets of leaves that would make `c` true, cheapest few kept per node. */
  private paths(c: CompiledNode, mode: PathMode): readonly Path[] {
    const memo = this.memoOf(mode);
    const known = memo[c.index];
    if (typeof known === 'object') return known;
    const out = this.computePaths(c, mode);
    memo[c.index] = out;
    return out;
  }

  /**
   * Whether `c` has any path in this mode, without building one: the search skips subtrees that
   * end in none (for a not-indicated record most of the policy), as the search itself would find.
   */
  private hasPaths(c: CompiledNode, mode: PathMode): boolean {
    const memo = this.memoOf(mode);
    const known = memo[c.index];
    if (typeof known === 'boolean') return known;
    // Built paths: there are some exactly when hasPaths said so (computePaths asks it first).
    if (typeof known === 'object') return known.length > 0;
    let open: boolean;
    if (c.effective !== undefined && !inWindow(this.dateOfService, c.effective)) open = false;
    else {
      const value = this.node(c).value;
      if (mode === 'viable' && value === false) open = false;
      else if (c.kind === 'fact') open = !(mode === 'changeable' && value === false && this.facts.isFixed?.(c.fact) === true);
      else if (c.kind === 'not') open = true;
      else if (c.kind === 'ref') open = this.hasPaths(this.target(c), mode);
      else {
        // All: every child; any: one; atLeast: n (counted only as far as it decides).
        const needed = c.kind === 'all' ? c.children.length : c.kind === 'any' ? 1 : c.n;
        let count = 0;
        for (let i = 0; i < c.children.length && count < needed; i++) {
          if (this.hasPaths(c.children[i], mode)) count++;
          else if (c.kind === 'all') break;
        }
        open = count >= needed;
      }
    }
    memo[c.index] = open;
    return open;
  }

  private computePaths(c: CompiledNode, mode: PathMode): readonly Path[] {
    if (!this.hasPaths(c, mode)) return NO_PATHS;
    switch (c.kind) {
      case 'fact':
      case 'not': {
        // A leaf of the path: a fact, or a negated criterion.
        const value = this.node(c).value;
        const cost = value === true ? 0 : value === false ? 100 : 1;
        return [new Path(c, undefined, undefined, c.asLeaves, cost, c, c.cited)];
      }
      case 'ref':
        return this.paths(this.target(c), mode).map((p) => this.wrap(c, p));
      case 'any': {
        let count = 0;
        for (const child of c.children) count += this.paths(child, mode).length;
        const all: Path[] = new Array(count);
        let k = 0;
        for (const child of c.children) for (const p of this.paths(child, mode)) all[k++] = p;
        return keepBest(all).map((p) => this.wrap(c, p));
      }
      case 'all':
        return this.combine(c.children.map((child) => this.paths(child, mode))).map((p) => this.wrap(c, p));
      case 'atLeast': {
        const open = c.children.map((child) => this.paths(child, mode)).filter((paths) => paths.length > 0);
        const out: Path[] = [];
        // Every way to choose n of the open children, in order (1 2, 1 3, … 2 3, …).
        const chosen: (readonly Path[])[] = [];
        const choose = (start: number): void => {
          if (chosen.length === c.n) {
            for (const p of this.combine(chosen)) out.push(p);
            return;
          }
          for (let i = start; i < open.length; i++) {
            chosen.push(open[i]);
            choose(i + 1);
            chosen.pop();
          }
        };
        choose(0);
        return keepBest(out).map((p) => this.wrap(c, p));
      }
    }
  }

  /** Adds `c` to a path: the criterion its open leaves serve. */
  private wrap(c: CompiledNode, p: Path): Path {
    // Through a ref ("ONE or more of section I") the referring criterion is the one cited.
    const keepsCited = p.citedFound && c.kind !== 'ref';
    return new Path(c, p, undefined, p.leaves, p.cost, keepsCited ? p.cited : c, keepsCited || c.cited);
  }

  /** Every way to take one path of each list, cheapest kept; a pair is joined only if it is kept. */
  private combine(lists: readonly (readonly Path[])[]): readonly Path[] {
    if (lists.length === 0) return ONLY_EMPTY_PATH;
    if (lists[0].length === 0) return NO_PATHS;
    // Joined with the empty path a path is itself: the first list's paths need no pairs costed.
    let acc = keepBest(lists[0]);
    for (let l = 1; l < lists.length; l++) {
      const list = lists[l];
      if (list.length === 0) return NO_PATHS;
      // Pair (i, j) costs a's cost and b's open leaves a lacks; pairs in order a by a, then b by b.
      const costs: number[] = new Array(acc.length * list.length);
      for (let i = 0; i < acc.length; i++) {
        const a = acc[i];
        const inA = this.markAll(a.leaves);
        for (let j = 0; j < list.length; j++) {
          let cost = a.cost;
          for (const leaf of list[j].leaves) {
            if (this.marks[leaf.keyId] === inA) continue;
            const value = this.valueOf(leaf);
            if (value !== true) cost += value === false ? 100 : 1;
          }
          costs[i * list.length + j] = cost;
        }
      }
      const kept = cheapest(costs.length, (k) => costs[k]);
      const joined: Path[] = new Array(kept ? kept.length : costs.length);
      for (let k = 0; k < joined.length; k++) {
        const pair = kept ? kept[k] : k;
        joined[k] = this.join(acc[Math.floor(pair / list.length)], list[pair % list.length], costs[pair]);
      }
      acc = joined;
    }
    return acc;
  }

  /** The path taking both: a's steps, then b's not already in a. */
  private join(a: Path, b: Path, cost: number): Path {
    const inA = this.markAll(a.leaves);
    let added = 0;
    for (const leaf of b.leaves) if (this.marks[leaf.keyId] !== inA) added++;
    let leaves = a.leaves;
    if (added > 0) {
      // Sized once: a copy grown by push would take a new backing store, larger than needed.
      const all: CompiledNode[] = new Array(a.leaves.length + added);
      let k = 0;
      for (const leaf of a.leaves) all[k++] = leaf;
      for (const leaf of b.leaves) if (this.marks[leaf.keyId] !== inA) all[k++] = leaf;
      leaves = all;
    }
    const cited = a.citedFound || !b.citedFound ? (a.cited && a.cited.id ? a.cited : b.cited) : b.cited;
    return new Path(undefined, a, b, leaves, cost, cited, a.citedFound || b.citedFound);
  }

  /** Marks the keys of these leaves with a new mark, and returns it. */
  private markAll(leaves: readonly CompiledNode[]): number {
    const mark = ++this.mark;
    for (const leaf of leaves) this.marks[leaf.keyId] = mark;
    return mark;
  }
}

const NONE: readonly string[] = Object.freeze([]);

function result(
  n: CompiledNode,
  value: Truth,
  inForce: boolean,
  evidence: readonly string[],
  children?: readonly NodeResult[],
): NodeResult {
  return { id: n.id, text: n.text, kind: n.kind, value, inForce, evidence, children };
}

/** Keeps the cheapest paths, separately among those that do and do not already fail. */
function keepBest(paths: readonly Path[]): readonly Path[] {
  const kept = cheapest(paths.length, (i) => paths[i].cost);
  return kept ? kept.map((i) => paths[i]) : paths;
}

/**
 * Which of `count` items to keep: the cheapest PATHS_KEPT_PER_NODE of those that do not already fail
 * (cost under 100), then of those that do, each cheapest first and in order on ties; undefined when
 * there are so few that all are kept, in order.
 */
function cheapest(count: number, costOf: (i: number) => number): number[] | undefined {
  if (count <= PATHS_KEPT_PER_NODE) return undefined;
  const viable: number[] = [];
  const failing: number[] = [];
  for (let i = 0; i < count; i++) {
    const cost = costOf(i);
    const kept = cost < 100 ? viable : failing;
    // After every kept item no dearer (so in order on ties), if that is still within the limit.
    let at = kept.length;
    while (at > 0 && costOf(kept[at - 1]) > cost) at--;
    if (at === PATHS_KEPT_PER_NODE) continue;
    // Moved up one to make room (the last falls off a full list).
    for (let j = Math.min(kept.length, PATHS_KEPT_PER_NODE - 1); j > at; j--) kept[j] = kept[j - 1];
    kept[at] = i;
  }
  return viable.concat(failing);
}
