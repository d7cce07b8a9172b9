/**
 * Policy data model: a dated, versioned criteria tree that mirrors the policy document's outline.
 * Every node keeps its outline number (`id`) and the policy's own words (`text`).
 */

/** Three-valued logic: true, false, or null for unknown (not documented either way). */
export type Truth = boolean | null;

/** The contrast a criterion names: drives the alternative-imaging suggestions. */
export type Contrast = 'without' | 'with-and-without';

/** A date window in which a node (or a policy version) is in force; `until` is exclusive. */
export interface EffectiveWindow {
  readonly from?: string;
  readonly until?: string;
}

interface NodeBase {
  /** Outline number in the policy, e.g. `I.C`, `II.A`, `III.B.2.b`. */
  readonly id: string;
  /** The policy's words for this criterion. */
  readonly text: string;
  /** A short name for summary lines ("suspected cauda equina syndrome"); the words stay in `text`. */
  readonly label?: string;
  /** Imaging the policy names for this criterion. */
  readonly contrast?: Contrast;
  /** A node that is in force only part of the version's life (KP section V). */
  readonly effective?: EffectiveWindow;
  /** A criterion a card may cite by its outline number (as opposed to a grouping or a bullet). */
  readonly cite?: boolean;
  /** How we read an ambiguous sentence, shown to reviewers in the criteria table. */
  readonly interpretation?: string;
  /**
   * Read an unknown value as false here: "no red flag" judged on what the record and the notes
   * show, so a non-indication can be decided without a dozen findings documented absent.
   */
  readonly unknownAs?: false;
}

export interface AllNode extends NodeBase {
  readonly kind: 'all';
  readonly children: readonly CriterionNode[];
}
export interface AnyNode extends NodeBase {
  readonly kind: 'any';
  readonly children: readonly CriterionNode[];
}
export interface AtLeastNode extends NodeBase {
  readonly kind: 'atLeast';
  readonly n: number;
  readonly children: readonly CriterionNode[];
}
export interface NotNode extends NodeBase {
  readonly kind: 'not';
  readonly child: CriterionNode;
}
export interface FactNode extends NodeBase {
  readonly kind: 'fact';
  /** Id of a fact in the fact catalogue (`cds-services/common/facts.json` or a policy folder's `facts.json`). */
  readonly fact: string;
}
/** Reuses another node of the same policy by id ("ONE or more of the criteria under section I"). */
export interface RefNode extends NodeBase {
  readonly kind: 'ref';
  readonly ref: string;
}

export type CriterionNode = AllNode | AnyNode | AtLeastNode | NotNode | FactNode | RefNode;

/** A suggestion the policy prefers over the order as placed. */
export interface AlternativeRule {
  readonly id: string;
  /** Why, in the policy's or guideline's words. */
  readonly text: string;
  /** The rule applies when this node is true. */
  readonly when: CriterionNode;
  /** Only for these outcomes (default: all). */
  readonly outcomes?: readonly DecisionOutcome[];
  /** Only when the order's CPT is not one of these. */
  readonly unlessOrdered?: readonly string[];
  /** `change-order`: order this study instead; `replace-with-referral`: no imaging, refer (the code) instead. */
  readonly action: {
    readonly kind: 'change-order' | 'replace-with-referral';
    readonly code: string;
    readonly system: string;
    readonly display: string;
  };
  readonly isRecommended?: boolean;
  /** How we read the guideline's or contract's words into `when`, shown to reviewers. */
  readonly interpretation?: string;
}

/** An informational note (not a denial), e.g. claustrophobia: at the provider's discretion. */
export interface NoticeRule {
  readonly id: string;
  readonly text: string;
  readonly when: CriterionNode;
  /** `critical`: said on the decision card itself too (cauda equina: imaging does not wait). */
  readonly indicator?: 'info' | 'warning' | 'critical';
  readonly interpretation?: string;
}

export interface PolicyVersion {
  readonly policyId: string;
  readonly version: string;
  readonly title: string;
  /** A short name for summary lines ("KP WA"). */
  readonly shortTitle?: string;
  readonly payer: string;
  /** Citation of the source document. */
  readonly source: string;
  readonly effective: EffectiveWindow;
  readonly kind: 'criteria' | 'no-review-required';
  /** For `no-review-required`: why (e.g. LCD L37281). */
  readonly noReviewReason?: string;
  /** "Send the following documentation": shown on physician-review and documentation cards. */
  readonly documentationToSend?: string;
  /** Checked first: when one is true the order is not indicated. */
  readonly exclusions: readonly CriterionNode[];
  /** Sections whose satisfaction means the criteria are met. */
  readonly indications: readonly CriterionNode[];
  /** When one is true (and no indication is met) the case goes to a physician reviewer. */
  readonly reviews: readonly CriterionNode[];
  readonly notices: readonly NoticeRule[];
  readonly alternatives: readonly AlternativeRule[];
  /** Named nodes reachable by `ref` that are not sections themselves. */
  readonly definitions?: readonly CriterionNode[];
  /**
   * A red flag on record or in the order's reason (contract section 6): when true the order is
   * never "not indicated"; it is criteria met, documentation missing or physician review.
   */
  readonly redFlag?: CriterionNode;
}

export type DecisionOutcome =
  | 'criteria-met'
  | 'no-review-required'
  | 'documentation-missing'
  | 'physician-review'
  | 'not-indicated';
