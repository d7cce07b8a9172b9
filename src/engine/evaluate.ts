import { and3, atLeast3, inWindow, not3, or3 } from './logic.js';
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
 * Outline numbers down a path, outermost first, as a tree of joins: wrapping a path or joining two
 * costs one small object, and only the paths a candidate is made of are flattened (toCandidate).
 */
type Chain = null | { readonly id: string; readonly rest: Chain } | { readonly left: Chain; readonly right: Chain };

function flatten(chain: Chain, out: string[] = []): string[] {
  if (chain === null) return out;
  if ('id' in chain) {
    out.push(chain.id);
    return flatten(chain.rest, out);
  }
  flatten(chain.left, out);
  return flatten(chain.right, out);
}

interface Path {
  readonly steps: ReadonlyMap<string, PathStep>;
  readonly chain: Chain;
  /** The deepest cited criterion on the path (the outermost node until one is found). */
  readonly cited: { id: string; text: string };
  readonly citedFound: boolean;
  readonly contrast?: Contrast;
  /** Open leaves (unknown 1, false 100), kept so ranking never recounts. */
  readonly cost: number;
}

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
  const ev = new Evaluator(policy, facts, dateOfService);
  const exclusions = policy.exclusions.map((n) => ev.node(n));
  const indications = policy.indications.map((n) => ev.node(n));
  const reviews = policy.reviews.map((n) => ev.node(n));
  const trace = [...exclusions, ...indications, ...reviews];
  const notices = policy.notices.filter((n) => ev.node(n.when).value === true);

  const finish = (
    outcome: EngineOutcome,
    rest: Omit<EngineResult, 'outcome' | 'notices' | 'alternatives' | 'trace'>,
  ): EngineResult => ({
    outcome,
    ...rest,
    notices,
    alternatives: policy.alternatives.filter(
      (a) =>
        (!a.outcomes || a.outcomes.includes(outcome)) &&
        !(orderedCode && a.unlessOrdered?.includes(orderedCode)) &&
        ev.node(a.when).value === true,
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
  const redFlag = policy.redFlag ? ev.node(policy.redFlag) : undefined;
  const flagged = redFlag?.value === true;
  const redFlagFacts = policy.redFlag ? ev.factsUnder(policy.redFlag) : new Set<string>();
  const flagCited = (): DecidingCriterion | undefined =>
    policy.redFlag ? { kind: 'criterion', id: policy.redFlag.id, text: policy.redFlag.text, chain: [policy.redFlag.id] } : undefined;

  /** What would change the answer (paths this patient can reach) and what failed, for a denial or a review. */
  const changes = (): { wouldChange: CandidatePath[]; failedPaths: CandidatePath[] } => {
    // Paths this patient can still reach: every failed leaf is care still to give (not a diagnosis the
    // record rules out, not a negated criterion such as a prior MRI), and no red-flag path without a red flag.
    const flagFacts = flagged ? new Set<string>() : redFlagFacts;
    const closest = policy.indications
      .flatMap((section) => ev.paths(section, 'changeable').map((p) => toCandidate(section.id, p)))
      .filter((c) => c.failed.length + c.unknown.length > 0);
    const reachable = closest.filter(
      (c) =>
        c.failed.every((s) => s.fact !== undefined && !facts.isSpecific(s.fact)) &&
        ![...c.failed, ...c.unknown].some((s) => s.fact !== undefined && flagFacts.has(s.fact)),
    );
    // Shortest first, and only paths within two items of the shortest (a path of seven items, e.g. the
    // ankylosing spondylitis criteria for a 99-year-old, is not what would change this answer).
    // With nothing reachable by care, what documentation alone would change (e.g. acute pain: the red flags).
    const byDocumentation = closest.filter((c) => c.failed.length === 0);
    const ranked = rankDistinct(reachable.length ? reachable : byDocumentation, (c) => c.failed.length + c.unknown.length);
    const shortest = ranked.length ? ranked[0].failed.length + ranked[0].unknown.length : 0;
    const wouldChange = ranked.filter((c) => c.failed.length + c.unknown.length <= shortest + 2).slice(0, 3);
    // What failed: criteria the record rules out now, those this patient can reach first.
    const failedOf = (list: CandidatePath[]) => rankDistinct(list.filter((c) => c.failed.length > 0), (c) => c.failed.length + c.unknown.length);
    const failedReachable = failedOf(reachable);
    const failedPaths = (failedReachable.length ? failedReachable : failedOf(closest)).slice(0, 3);
    return { wouldChange, failedPaths };
  };

  const excluded = decidedByFirstTrue(policy.exclusions, exclusions, flagged ? 'physician-review' : 'not-indicated');
  if (excluded) {
    if (flagged) return { ...excluded, evidence: [...new Set([...excluded.evidence, ...(redFlag?.evidence ?? [])])] };
    // What would change a denial (e.g. acute pain: the red flags); none when an indication is met and the exclusion alone decides.
    return { ...excluded, wouldChange: indications.some((r) => r.value === true) ? [] : changes().wouldChange };
  }

  // A non-indication the record leaves undetermined blocks automatic approval: it asks for the facts that decide it.
  const undecided = policy.exclusions
    .map((node, i) => ({ node, result: exclusions[i] }))
    .filter((x) => x.result.value === null)
    .map((x) => ev.decidingCandidate(x.node))
    .filter((c): c is CandidatePath => c !== undefined);

  for (let i = 0; i < policy.indications.length; i++) {
    if (indications[i].value === true) {
      const met = ev.metChain(policy.indications[i]);
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
  const open = policy.indications
    .flatMap((section) => ev.paths(section, 'viable').map((p) => toCandidate(section.id, p)))
    .filter((c) => c.failed.length === 0 && c.unknown.length > 0);
  const pointed = open.filter((c) =>
    c.steps.some((s) => s.value === true && s.fact !== undefined && (facts.isSpecific(s.fact) || (facts.pointsToPath?.(s.fact) ?? false))),
  );
  // With a red flag and no path its record points down, a path that needs no other red flag (e.g. the
  // urgent-surgery path of KP II.A): the flag is never denied for want of paperwork.
  const candidates =
    pointed.length > 0 || !flagged ? pointed : open.filter((c) => !c.unknown.some((s) => s.fact !== undefined && redFlagFacts.has(s.fact)));
  const missing = rankDistinct(candidates, (c) => c.unknown.length).slice(0, 3);
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

  const { wouldChange, failedPaths } = changes();
  if (flagged) {
    const by = flagCited();
    return finish('physician-review', { decidedBy: by, evidence: redFlag?.evidence ?? [], missing: [], wouldChange, failedPaths });
  }
  return finish('not-indicated', { decidedBy: undefined, evidence: [], missing: [], wouldChange, failedPaths });
}

function toCandidate(sectionId: string, p: Path): CandidatePath {
  const steps = [...p.steps.values()];
  return {
    sectionId,
    chain: flatten(p.chain),
    cited: p.cited,
    steps,
    unknown: steps.filter((s) => s.value === null),
    failed: steps.filter((s) => s.value === false),
  };
}

/** Best first by cost, then policy order; drops paths asking for the same set of items. */
function rankDistinct(paths: CandidatePath[], cost: (c: CandidatePath) => number): CandidatePath[] {
  const sorted = paths.map((c, i) => ({ c, i })).sort((a, b) => cost(a.c) - cost(b.c) || a.i - b.i);
  const seen = new Set<string>();
  const out: CandidatePath[] = [];
  for (const { c } of sorted) {
    const key = [...c.unknown, ...c.failed].map((s) => s.key).sort().join('|');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(c);
  }
  return out;
}

function evidenceOf(c: CandidatePath, facts: FactProvider): string[] {
  const out = new Set<string>();
  for (const s of c.steps) if (s.value === true && s.fact) for (const e of facts.fact(s.fact).evidence) out.add(e);
  return [...out];
}

class Evaluator {
  private readonly byId: ReadonlyMap<string, CriterionNode>;
  private readonly results = new Map<CriterionNode, NodeResult>();
  private readonly pathMemo = { viable: new Map<CriterionNode, Path[]>(), changeable: new Map<CriterionNode, Path[]>() };
  private readonly openMemo = { viable: new Map<CriterionNode, boolean>(), changeable: new Map<CriterionNode, boolean>() };

  constructor(
    private readonly policy: PolicyVersion,
    private readonly facts: FactProvider,
    private readonly dateOfService: string,
  ) {
    this.byId = nodeIndex(policy);
  }

  resolve(id: string): CriterionNode {
    const target = this.byId.get(id);
    if (!target) throw new Error(`policy ${this.policy.policyId} ${this.policy.version}: ref to unknown node ${id}`);
    return target;
  }

  node(n: CriterionNode): NodeResult {
    const memo = this.results.get(n);
    if (memo) return memo;
    const computed = this.compute(n);
    // "No red flag" judged on what is on record: an undocumented item counts as absent here, unless
    // the record already points toward it (a specific fact true on an open branch, e.g. fever with
    // the infection suspicion undocumented): then it stays undetermined and is asked for.
    const r = n.unknownAs === false && computed.value === null && !this.pointedTo(n, null) ? { ...computed, value: false } : computed;
    this.results.set(n, r);
    return r;
  }

  private compute(n: CriterionNode): NodeResult {
    if (!inWindow(this.dateOfService, n.effective)) return result(n, false, false, NONE);
    switch (n.kind) {
      case 'fact': {
        const f = this.facts.fact(n.fact);
        return { id: n.id, text: n.text, kind: n.kind, fact: n.fact, value: f.value, inForce: true, evidence: f.value === true ? f.evidence : NONE };
      }
      case 'ref': {
        const t = this.node(this.resolve(n.ref));
        return result(n, t.value, t.inForce, t.evidence, [t]);
      }
      case 'not': {
        const c = this.node(n.child);
        return result(n, not3(c.value), true, NONE, [c]);
      }
      case 'all':
      case 'any':
      case 'atLeast': {
        const children: NodeResult[] = new Array(n.children.length);
        const values: Truth[] = new Array(n.children.length);
        for (let i = 0; i < n.children.length; i++) {
          children[i] = this.node(n.children[i]);
          values[i] = children[i].value;
        }
        const value = n.kind === 'all' ? and3(values) : n.kind === 'any' ? or3(values) : atLeast3(n.n, values);
        let evidence: readonly string[] = NONE;
        if (value === true) {
          const set = new Set<string>();
          for (const c of children) if (c.value === true) for (const e of c.evidence) set.add(e);
          evidence = [...set];
        }
        return result(n, value, true, evidence, children);
      }
    }
  }

  /** The branch taken through a true node: first true child of ANY, every child of ALL. */
  metChain(root: CriterionNode): { chain: string[]; cited: { id: string; text: string }; contrast?: Contrast } {
    const chain: string[] = [];
    let cited = { id: root.id, text: root.text };
    let contrast: Contrast | undefined;
    const visit = (n: CriterionNode, insideRef: boolean): void => {
      if (this.node(n).value !== true) return;
      if (n.kind === 'fact' || n.kind === 'not') {
        if (isCited(n) && !insideRef) cited = { id: n.id, text: n.text };
        if (n.contrast) contrast = n.contrast;
        if (isCited(n)) chain.push(n.id);
        return;
      }
      chain.push(n.id);
      // Through a ref ("ONE or more of the criteria under section I") the referring criterion is cited.
      if (isCited(n) && !insideRef) cited = { id: n.id, text: n.text };
      if (n.contrast) contrast = n.contrast;
      if (n.kind === 'ref') return visit(this.resolve(n.ref), true);
      if (n.kind === 'any') {
        const first = n.children.find((c) => this.node(c).value === true);
        if (first) visit(first, insideRef);
        return;
      }
      for (const c of n.children) visit(c, insideRef);
    };
    visit(root, false);
    return { chain, cited, contrast };
  }

  /** An open node the record points toward: a specific fact true on a branch not already false. */
  private pointedTo(n: CriterionNode, value: Truth, seen: Set<CriterionNode> = new Set()): boolean {
    if (seen.has(n) || value === false) return false;
    seen.add(n);
    const at = (c: CriterionNode): boolean => this.pointedTo(c, this.node(c).value, seen);
    switch (n.kind) {
      case 'fact':
        return value === true && this.facts.isSpecific(n.fact);
      case 'not':
        return false;
      case 'ref':
        return at(this.resolve(n.ref));
      default:
        return n.children.some(at);
    }
  }

  /** Every fact a node reads, through refs. */
  factsUnder(root: CriterionNode): Set<string> {
    const out = new Set<string>();
    const seen = new Set<CriterionNode>();
    const walk = (n: CriterionNode): void => {
      if (seen.has(n)) return;
      seen.add(n);
      if (n.kind === 'fact') out.add(n.fact);
      else if (n.kind === 'ref') walk(this.resolve(n.ref));
      else if (n.kind === 'not') walk(n.child);
      else n.children.forEach(walk);
    };
    walk(root);
    return out;
  }

  /** The open leaves that decide an undetermined non-indication, as a path citing it. */
  decidingCandidate(root: CriterionNode): CandidatePath | undefined {
    const steps = new Map<string, PathStep>();
    const walk = (n: CriterionNode): void => {
      const r = this.node(n);
      if (r.value !== null || !r.inForce) return;
      if (n.kind === 'fact') {
        steps.set(n.fact, { key: n.fact, fact: n.fact, value: null, leafId: n.id, leafText: n.text, criterionId: root.id, criterionText: root.text, served: true });
      } else if (n.kind === 'ref') walk(this.resolve(n.ref));
      else if (n.kind === 'not') walk(n.child);
      else n.children.forEach(walk);
    };
    walk(root);
    const unknown = [...steps.values()];
    if (unknown.length === 0) return undefined;
    return { sectionId: root.id, chain: [root.id], cited: { id: root.id, text: root.text }, steps: unknown, unknown, failed: [] };
  }

  contrastOfChain(chain: readonly string[]): Contrast | undefined {
    let contrast: Contrast | undefined;
    for (const id of chain) contrast = this.byId.get(id)?.contrast ?? contrast;
    return contrast;
  }

  /** Minimal sets of leaves that would make `n` true, cheapest few kept per node. */
  paths(n: CriterionNode, mode: PathMode): Path[] {
    const memo = this.pathMemo[mode].get(n);
    if (memo) return memo;
    const out = this.computePaths(n, mode);
    this.pathMemo[mode].set(n, out);
    return out;
  }

  /**
   * Whether `n` has any path in this mode, without building one: the search skips subtrees that
   * end in none (for a not-indicated record most of the policy), as the search itself would find.
   */
  private hasPaths(n: CriterionNode, mode: PathMode): boolean {
    const memo = this.openMemo[mode].get(n);
    if (memo !== undefined) return memo;
    let open: boolean;
    if (!inWindow(this.dateOfService, n.effective)) open = false;
    else {
      const value = this.node(n).value;
      if (mode === 'viable' && value === false) open = false;
      else if (n.kind === 'fact') open = !(mode === 'changeable' && value === false && this.facts.isFixed?.(n.fact) === true);
      else if (n.kind === 'not') open = true;
      else if (n.kind === 'ref') open = this.hasPaths(this.resolve(n.ref), mode);
      else if (n.kind === 'all') open = n.children.every((c) => this.hasPaths(c, mode));
      else if (n.kind === 'any') open = n.children.some((c) => this.hasPaths(c, mode));
      else {
        let count = 0;
        for (const c of n.children) if (this.hasPaths(c, mode)) count++;
        open = count >= n.n;
      }
    }
    this.openMemo[mode].set(n, open);
    return open;
  }

  private computePaths(n: CriterionNode, mode: PathMode): Path[] {
    if (!this.hasPaths(n, mode)) return [];
    const value = this.node(n).value;
    const sub = (c: CriterionNode): Path[] => this.paths(c, mode);
    switch (n.kind) {
      case 'fact':
      case 'not': {
        // A leaf of the path: a fact, or a negated criterion (kept whole, keyed by its id).
        const served = isCited(n);
        const step: PathStep =
          n.kind === 'fact'
            ? { key: n.fact, fact: n.fact, value, leafId: n.id, leafText: n.text, criterionId: n.id, criterionText: n.text, served }
            : { key: `not:${n.id}`, value, leafId: n.id, leafText: n.text, criterionId: n.id, criterionText: n.text, served };
        const cost = value === true ? 0 : value === false ? 100 : 1;
        const steps = new Map<string, PathStep>().set(step.key, step);
        return [{ steps, chain: { id: n.id, rest: null }, cited: { id: n.id, text: n.text }, citedFound: served, contrast: n.contrast, cost }];
      }
      case 'ref':
        return sub(this.resolve(n.ref)).map((p) => this.wrap(n, p));
      case 'any': {
        const all: Path[] = [];
        for (const c of n.children) for (const p of sub(c)) all.push(p);
        return keepBest(all).map((p) => this.wrap(n, p));
      }
      case 'all':
        return combine(n.children.map(sub)).map((p) => this.wrap(n, p));
      case 'atLeast': {
        const open = n.children.filter((c) => sub(c).length > 0);
        const out: Path[] = [];
        for (const subset of choose(open, n.n)) out.push(...combine(subset.map(sub)));
        return keepBest(out).map((p) => this.wrap(n, p));
      }
    }
  }

  /** Adds `n` to a path: its chain, the criterion its open leaves serve, the contrast it names. */
  private wrap(n: CriterionNode, p: Path): Path {
    const cite = n.cite === true;
    let steps = p.steps;
    if (cite) {
      const relabelled = new Map<string, PathStep>();
      steps = relabelled;
      for (const [k, s] of p.steps) {
        relabelled.set(k, s.served ? s : { ...s, criterionId: n.id, criterionText: n.text, served: true });
      }
    }
    return {
      steps,
      chain: { id: n.id, rest: p.chain },
      // Through a ref ("ONE or more of section I") the referring criterion is the one cited.
      cited: p.citedFound && n.kind !== 'ref' ? p.cited : { id: n.id, text: n.text },
      citedFound: (p.citedFound && n.kind !== 'ref') || cite,
      contrast: p.contrast ?? n.contrast,
      cost: p.cost,
    };
  }
}

const NONE: readonly string[] = Object.freeze([]);

function result(
  n: CriterionNode,
  value: Truth,
  inForce: boolean,
  evidence: readonly string[],
  children?: readonly NodeResult[],
): NodeResult {
  return { id: n.id, text: n.text, kind: n.kind, value, inForce, evidence, children };
}

function isCited(n: CriterionNode): boolean {
  return n.cite === true;
}

const EMPTY_PATH: Path = { steps: new Map(), chain: null, cited: { id: '', text: '' }, citedFound: false, cost: 0 };

/** Every way to take one path of each list, cheapest kept; a pair's steps are copied only if it is kept. */
function combine(lists: Path[][]): Path[] {
  let acc: Path[] = [EMPTY_PATH];
  for (const list of lists) {
    if (list.length === 0) return [];
    // Joined with the empty path a path is itself: no pairs to cost.
    if (acc.length === 1 && acc[0] === EMPTY_PATH) {
      acc = keepBest(list);
      continue;
    }
    const pairs: { readonly a: Path; readonly b: Path; readonly cost: number }[] = [];
    for (const a of acc) {
      for (const b of list) {
        let cost = a.cost;
        for (const [k, s] of b.steps) if (s.value !== true && !a.steps.has(k)) cost += s.value === false ? 100 : 1;
        pairs.push({ a, b, cost });
      }
    }
    acc = keepBest(pairs).map(join);
  }
  return acc;
}

/** The path taking both: a's steps, then b's not already in a. */
function join({ a, b, cost }: { readonly a: Path; readonly b: Path; readonly cost: number }): Path {
  const steps = new Map(a.steps);
  for (const [k, s] of b.steps) if (!steps.has(k)) steps.set(k, s);
  return {
    cost,
    steps,
    chain: a.chain === null ? b.chain : b.chain === null ? a.chain : { left: a.chain, right: b.chain },
    cited: a.citedFound || !b.citedFound ? (a.cited.id ? a.cited : b.cited) : b.cited,
    citedFound: a.citedFound || b.citedFound,
    contrast: a.contrast ?? b.contrast,
  };
}

/** Keeps the cheapest paths, separately among those that do and do not already fail. */
function keepBest<T extends { readonly cost: number }>(paths: T[]): T[] {
  if (paths.length <= PATHS_KEPT_PER_NODE) return paths;
  const scored = paths.map((p, i) => ({ p, i, c: p.cost })).sort((a, b) => a.c - b.c || a.i - b.i);
  const viable = scored.filter((x) => x.c < 100).slice(0, PATHS_KEPT_PER_NODE);
  const failing = scored.filter((x) => x.c >= 100).slice(0, PATHS_KEPT_PER_NODE);
  return [...viable, ...failing].map((x) => x.p);
}

function* choose<T>(items: readonly T[], k: number, start = 0, acc: T[] = []): Generator<T[]> {
  if (acc.length === k) {
    yield [...acc];
    return;
  }
  for (let i = start; i < items.length; i++) {
    acc.push(items[i]);
    yield* choose(items, k, i + 1, acc);
    acc.pop();
  }
}

