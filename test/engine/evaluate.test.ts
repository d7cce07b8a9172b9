/**
 * evaluatePolicy on small hand-made policies: the order of judgement (exclusions, indications,
 * physician review, documentation missing, not indicated), the criterion cited, and what the
 * documentation-missing and not-indicated results list.
 */
import { describe, expect, it } from 'vitest';
import { evaluatePolicy, type FactProvider } from '../../src/engine/evaluate.js';
import type { AlternativeRule, CriterionNode, FactNode, PolicyVersion, Truth } from '../../src/engine/types.js';

/** Facts by id; a fact not listed is unknown. Specific facts are diagnoses, findings, tests. */
function facts(values: Record<string, Truth>, specific: readonly string[] = []): FactProvider {
  return {
    fact: (id) => {
      const value = id in values ? values[id] : null;
      return { value, evidence: value === true ? [`Observation/${id}`] : [] };
    },
    isSpecific: (id) => specific.includes(id),
  };
}

const fact = (id: string, f = id, extra: Partial<FactNode> = {}): FactNode => ({ kind: 'fact', id, text: `text of ${id}`, fact: f, ...extra });

function policy(parts: Partial<PolicyVersion>): PolicyVersion {
  return {
    policyId: 'test-policy',
    version: 'v1',
    title: 'Test policy',
    payer: 'Test payer',
    source: 'hand-made',
    effective: {},
    kind: 'criteria',
    exclusions: [],
    indications: [],
    reviews: [],
    notices: [],
    alternatives: [],
    ...parts,
  };
}

const DOS = '2024-06-12';

/** Section I: acute pain AND (A: a finding, cited, without contrast; C: suspicion AND two of three risks, cited, with and without). */
const sectionI: CriterionNode = {
  kind: 'all',
  id: 'I',
  text: 'Acute pain',
  children: [
    fact('I.0', 'acute'),
    {
      kind: 'any',
      id: 'I.flags',
      text: 'ONE or more red flags',
      children: [
        fact('I.A', 'deficit', { cite: true, contrast: 'without' }),
        {
          kind: 'all',
          id: 'I.C',
          text: 'Suspicion of infection and TWO or more risks',
          cite: true,
          contrast: 'with-and-without',
          children: [
            fact('I.C.0', 'infection-suspected'),
            { kind: 'atLeast', id: 'I.C.risk', text: 'TWO or more', n: 2, children: [fact('I.C.1', 'fever'), fact('I.C.2', 'diabetes'), fact('I.C.3', 'ivdu')] },
          ],
        },
      ],
    },
  ],
};

/** Section II: subacute AND (therapy AND (ref to section I's flags OR radiculopathy finding)). */
const sectionII: CriterionNode = {
  kind: 'all',
  id: 'II',
  text: 'Subacute pain',
  children: [
    fact('II.0', 'subacute'),
    {
      kind: 'all',
      id: 'II.A',
      text: 'Therapy failed and ONE of the following',
      cite: true,
      contrast: 'without',
      children: [
        fact('II.A.pt', 'therapy'),
        {
          kind: 'any',
          id: 'II.A.criteria',
          text: 'ONE of',
          children: [
            { kind: 'ref', id: 'II.A.1', text: 'Any section I red flag', ref: 'I.flags' },
            fact('II.A.2', 'radicular-sign'),
          ],
        },
      ],
    },
  ],
};

const exclusionNI: CriterionNode = {
  kind: 'all',
  id: 'NI',
  text: 'Uncomplicated acute pain',
  children: [fact('NI.1', 'acute'), { kind: 'not', id: 'NI.2', text: 'No red flags', child: { kind: 'ref', id: 'NI.2.flags', text: 'Red flags', ref: 'I.flags' } }],
};

const base = policy({ exclusions: [fact('IV', 'ms-indication', { cite: true }), exclusionNI], indications: [sectionI, sectionII] });
const SPECIFIC = ['deficit', 'infection-suspected', 'fever', 'diabetes', 'ivdu', 'radicular-sign', 'ms-indication'];

describe('evaluatePolicy: exclusions first', () => {
  it('an exclusion that is true decides even when an indication is met', () => {
    const r = evaluatePolicy(base, facts({ 'ms-indication': true, acute: true, deficit: true }, SPECIFIC), DOS);
    expect(r.outcome).toBe('not-indicated');
    expect(r.decidedBy?.id).toBe('IV');
    expect(r.evidence).toEqual(['Observation/ms-indication']);
    expect(r.wouldChange).toEqual([]);
  });

  it('NOT over a ref: the exclusion applies only when every red flag is false', () => {
    const none = { 'ms-indication': false, acute: true, deficit: false, 'infection-suspected': false, fever: false, diabetes: false, ivdu: false };
    expect(evaluatePolicy(base, facts(none, SPECIFIC), DOS).decidedBy?.id).toBe('NI');
    const unknownFlag = evaluatePolicy(base, facts({ ...none, deficit: null }, SPECIFIC), DOS);
    // NI is unknown, not true: the answer is still not indicated, but NI is not cited (it is cited only when true).
    expect(unknownFlag.outcome).toBe('not-indicated');
    expect(unknownFlag.trace.find((n) => n.id === 'NI')?.value).toBe(null);
    expect(unknownFlag.decidedBy).toBeUndefined();
  });
});

describe('evaluatePolicy: criteria met', () => {
  it('cites the deepest cited criterion on the branch taken, with its contrast and evidence', () => {
    const r = evaluatePolicy(base, facts({ 'ms-indication': false, acute: true, 'infection-suspected': true, fever: true, diabetes: true, ivdu: false }, SPECIFIC), DOS);
    expect(r.outcome).toBe('criteria-met');
    expect(r.decidedBy?.id).toBe('I.C');
    expect(r.decidedBy?.chain).toEqual(['I', 'I.flags', 'I.C', 'I.C.risk']);
    expect(r.contrast).toBe('with-and-without');
    expect([...r.evidence].sort()).toEqual(['Observation/acute', 'Observation/diabetes', 'Observation/fever', 'Observation/infection-suspected']);
  });

  it('takes the first true child of ANY (policy order) when several red flags are true', () => {
    const r = evaluatePolicy(base, facts({ 'ms-indication': false, acute: true, deficit: true, 'infection-suspected': true, fever: true, diabetes: true }, SPECIFIC), DOS);
    expect(r.decidedBy?.id).toBe('I.A');
    expect(r.contrast).toBe('without');
  });

  it('through a ref the referring criterion is cited, not the criterion referred to', () => {
    const r = evaluatePolicy(base, facts({ 'ms-indication': false, acute: false, subacute: true, therapy: true, deficit: true }, SPECIFIC), DOS);
    expect(r.outcome).toBe('criteria-met');
    expect(r.decidedBy?.id).toBe('II.A');
    expect(r.decidedBy?.chain).toContain('II.A.1');
    expect(r.decidedBy?.chain).toContain('I.A');
  });
});

describe('evaluatePolicy: physician review', () => {
  const withReview = policy({ ...base, reviews: [fact('V.review', 'as-indication')] });
  it('sends the case to review when no indication is met and a review node is true', () => {
    const r = evaluatePolicy(withReview, facts({ acute: false, subacute: false, 'as-indication': true }, SPECIFIC), DOS);
    expect(r.outcome).toBe('physician-review');
    expect(r.decidedBy?.id).toBe('V.review');
  });
  it('a met indication wins over review', () => {
    const r = evaluatePolicy(withReview, facts({ 'ms-indication': false, acute: true, deficit: true, 'as-indication': true }, SPECIFIC), DOS);
    expect(r.outcome).toBe('criteria-met');
  });
});

describe('evaluatePolicy: documentation missing', () => {
  it('asks for the unknown leaves of a path with a specific fact true and no false leaf', () => {
    const r = evaluatePolicy(base, facts({ acute: true, 'infection-suspected': true, fever: true, diabetes: false, deficit: false }, SPECIFIC), DOS);
    expect(r.outcome).toBe('documentation-missing');
    expect(r.decidedBy?.id).toBe('I.C');
    expect(r.missing[0].unknown.map((s) => s.fact)).toEqual(['ivdu']);
    expect(r.missing[0].unknown[0].criterionId).toBe('I.C');
    expect(r.missing[0].failed).toEqual([]);
    expect(r.contrast).toBe('with-and-without');
  });

  it('is not offered when the only true facts on the open paths are context (not specific)', () => {
    const r = evaluatePolicy(base, facts({ acute: false, subacute: true, therapy: true, 'radicular-sign': null }, SPECIFIC), DOS);
    expect(r.outcome).toBe('not-indicated');
    expect(r.missing).toEqual([]);
  });

  it('is not offered for a path with a false leaf, however specific its true facts', () => {
    // The infection path has a specific fact true and an unknown, but two of its risks are false.
    const r = evaluatePolicy(base, facts({ acute: true, 'infection-suspected': true, fever: false, diabetes: false, ivdu: null, deficit: false }, SPECIFIC), DOS);
    expect(r.outcome).toBe('not-indicated');
  });

  it('skips a shorter path that nothing specific points to', () => {
    // Through II.A: the radicular sign alone (1 item, but only context facts true) or the infection
    // path (fever true; suspicion and a second risk unknown: 2 items).
    const r = evaluatePolicy(
      base,
      facts({ acute: false, subacute: true, therapy: true, fever: true, deficit: false, 'radicular-sign': null, 'infection-suspected': null, diabetes: null, ivdu: null }, SPECIFIC),
      DOS,
    );
    expect(r.outcome).toBe('documentation-missing');
    expect(r.decidedBy?.id).toBe('II.A');
    expect(r.missing.map((p) => p.unknown.map((s) => s.fact).sort())).toEqual([
      ['diabetes', 'infection-suspected'],
      ['infection-suspected', 'ivdu'],
    ]);
  });

  it('prefers a one-item path over a two-item path when both qualify', () => {
    const r = evaluatePolicy(
      base,
      facts({ acute: true, deficit: null, 'infection-suspected': true, fever: true, diabetes: null, ivdu: null }, [...SPECIFIC]),
      DOS,
    );
    expect(r.outcome).toBe('documentation-missing');
    expect(r.missing[0].unknown).toHaveLength(1);
    expect(['diabetes', 'ivdu']).toContain(r.missing[0].unknown[0].fact);
    expect(r.missing.every((p, i) => i === 0 || p.unknown.length >= r.missing[i - 1].unknown.length)).toBe(true);
  });
});

describe('evaluatePolicy: not indicated', () => {
  it('says what would change the answer, closest paths first, and cites no criterion when no exclusion may apply', () => {
    const r = evaluatePolicy(
      base,
      facts({ 'ms-indication': false, acute: false, subacute: true, therapy: false, deficit: false, 'radicular-sign': true, 'infection-suspected': false, fever: false, diabetes: false, ivdu: false }, SPECIFIC),
      DOS,
    );
    expect(r.outcome).toBe('not-indicated');
    expect(r.decidedBy).toBeUndefined();
    expect(r.wouldChange.length).toBeGreaterThan(0);
    const cost = (p: (typeof r.wouldChange)[number]) => p.failed.length + p.unknown.length;
    expect(cost(r.wouldChange[0])).toBe(1);
    expect(r.wouldChange[0].failed.map((s) => s.fact)).toEqual(['therapy']);
    expect(r.wouldChange.every((p, i) => i === 0 || cost(p) >= cost(r.wouldChange[i - 1]))).toBe(true);
  });

  it('does not offer a path failed by a fixed fact (the episode\'s duration, age)', () => {
    const values = { 'ms-indication': false, acute: false, subacute: true, therapy: false, deficit: null, 'radicular-sign': true, 'infection-suspected': false, fever: false, diabetes: false, ivdu: false };
    const withFixed: FactProvider = { ...facts(values, SPECIFIC), isFixed: (id) => id === 'acute' || id === 'subacute' };
    const all = evaluatePolicy(base, facts(values, SPECIFIC), DOS).wouldChange;
    const kept = evaluatePolicy(base, withFixed, DOS).wouldChange;
    expect(all.some((p) => p.failed.some((st) => st.fact === 'acute'))).toBe(true);
    expect(kept.some((p) => p.failed.some((st) => st.fact === 'acute'))).toBe(false);
    expect(kept.length).toBeGreaterThan(0);
  });
});

describe('evaluatePolicy: effective windows and refs', () => {
  const dated = policy({
    indications: [
      { kind: 'any', id: 'V', text: 'Section V', cite: true, effective: { from: '2024-03-01' }, children: [fact('V.A', 'as-suspected', { cite: true })] },
    ],
    reviews: [fact('V.review', 'as-indication', { effective: { until: '2024-03-01' } })],
  });
  const f = facts({ 'as-suspected': true, 'as-indication': true }, ['as-suspected', 'as-indication']);

  it('a node outside its window is not in force and counts as false', () => {
    const r = evaluatePolicy(dated, f, '2024-02-29');
    expect(r.outcome).toBe('physician-review');
    const v = r.trace.find((n) => n.id === 'V');
    expect(v).toMatchObject({ value: false, inForce: false });
  });

  it('from the window\'s first day the node is judged', () => {
    const r = evaluatePolicy(dated, f, '2024-03-01');
    expect(r.outcome).toBe('criteria-met');
    expect(r.decidedBy?.id).toBe('V.A');
    expect(r.trace.find((n) => n.id === 'V.review')).toMatchObject({ inForce: false });
  });

  it('a ref to a node the policy does not have is an error that names the policy and the node', () => {
    const broken = policy({ indications: [{ kind: 'ref', id: 'X', text: 'dangling', ref: 'Nowhere' }] });
    expect(() => evaluatePolicy(broken, facts({}), DOS)).toThrow(/test-policy v1: ref to unknown node Nowhere/);
  });

  it('a ref reads the definition it points to (definitions are not sections)', () => {
    const withDefinition = policy({
      indications: [{ kind: 'ref', id: 'S', text: 'S', ref: 'D', cite: true }],
      definitions: [{ kind: 'all', id: 'D', text: 'D', children: [fact('D.1', 'a'), fact('D.2', 'b')] }],
    });
    expect(evaluatePolicy(withDefinition, facts({ a: true, b: true }), DOS).outcome).toBe('criteria-met');
    expect(evaluatePolicy(withDefinition, facts({ a: true, b: false }), DOS).outcome).toBe('not-indicated');
  });
});

describe('evaluatePolicy: alternatives', () => {
  const noImaging: AlternativeRule = {
    id: 'ALT.no-imaging',
    text: 'No imaging',
    when: fact('ALT.when', 'acute'),
    outcomes: ['not-indicated'],
    action: { kind: 'replace-with-referral', system: 'http://snomed.info/sct', code: '91251008', display: 'Physical therapy procedure' },
  };
  const ct: AlternativeRule = {
    id: 'ALT.ct',
    text: 'CT',
    when: fact('ALT.ct.when', 'pacemaker'),
    unlessOrdered: ['72131'],
    action: { kind: 'change-order', system: 'http://www.ama-assn.org/go/cpt', code: '72131', display: 'CT' },
  };
  const withAlternatives = policy({ ...base, alternatives: [noImaging, ct] });

  it('offers an alternative only for its outcomes and when its condition is true', () => {
    const met = evaluatePolicy(withAlternatives, facts({ acute: true, deficit: true, pacemaker: true }, SPECIFIC), DOS, '72148');
    expect(met.alternatives.map((a) => a.id)).toEqual(['ALT.ct']);
    const ni = evaluatePolicy(withAlternatives, facts({ acute: true, deficit: false, 'infection-suspected': false, pacemaker: false }, SPECIFIC), DOS, '72148');
    expect(ni.outcome).toBe('not-indicated');
    expect(ni.alternatives.map((a) => a.id)).toEqual(['ALT.no-imaging']);
  });

  it('does not offer what was already ordered', () => {
    const r = evaluatePolicy(withAlternatives, facts({ acute: true, deficit: true, pacemaker: true }, SPECIFIC), DOS, '72131');
    expect(r.alternatives).toEqual([]);
  });
});

describe('evaluatePolicy: red flags are never denied (issue 12)', () => {
  /** The policy-level red flag: a signal on record (deficit or infection suspicion); undocumented counts as absent. */
  const redFlag: CriterionNode = {
    kind: 'any',
    id: 'RED-FLAG',
    text: 'A red flag on record',
    unknownAs: false,
    children: [fact('RED-FLAG.1', 'deficit'), fact('RED-FLAG.2', 'infection-suspected')],
  };
  /** Section II with a second way in: an urgent intervention (no therapy needed), as KP II.A 2024. */
  const sectionIIUrgent: CriterionNode = {
    kind: 'all',
    id: 'II',
    text: 'Subacute pain',
    children: [
      fact('II.0', 'subacute'),
      {
        kind: 'any',
        id: 'II.A',
        text: 'Therapy and a criterion, or urgent intervention',
        cite: true,
        children: [
          { kind: 'all', id: 'II.A.therapy', text: 'Therapy and a criterion', children: [fact('II.A.pt', 'therapy'), { kind: 'ref', id: 'II.A.1', text: 'Section I', ref: 'I.flags' }] },
          fact('II.A.4', 'urgent-intervention'),
        ],
      },
    ],
  };
  const flagged = policy({ exclusions: [fact('IV', 'ms-indication', { cite: true })], indications: [sectionI, sectionIIUrgent], redFlag });
  const withoutUrgent = policy({ ...flagged, indications: [sectionI, sectionII] });
  const day43 = { 'ms-indication': false, acute: false, subacute: true, therapy: false, deficit: true, 'infection-suspected': false };

  it('a red flag on a path failed by conservative care asks for the path that needs none (documentation missing)', () => {
    const r = evaluatePolicy(flagged, facts(day43, SPECIFIC), DOS);
    expect(r.outcome).toBe('documentation-missing');
    expect(r.missing[0].unknown.map((s) => s.fact)).toEqual(['urgent-intervention']);
  });

  it('with no path left, a red flag goes to physician review citing the red flag, never not indicated', () => {
    const r = evaluatePolicy(withoutUrgent, facts(day43, SPECIFIC), DOS);
    expect(r.outcome).toBe('physician-review');
    expect(r.decidedBy?.id).toBe('RED-FLAG');
    expect(r.evidence).toEqual(['Observation/deficit']);
    // The same record without the red flag is denied.
    expect(evaluatePolicy(withoutUrgent, facts({ ...day43, deficit: false }, SPECIFIC), DOS).outcome).toBe('not-indicated');
  });

  it('a true exclusion with a red flag goes to physician review citing the exclusion', () => {
    const r = evaluatePolicy(withoutUrgent, facts({ ...day43, 'ms-indication': true }, SPECIFIC), DOS);
    expect(r.outcome).toBe('physician-review');
    expect(r.decidedBy?.id).toBe('IV');
  });

  it('unknownAs false: an undocumented red flag is absent, but one the record points toward stays open', () => {
    const none = evaluatePolicy(withoutUrgent, facts({ ...day43, deficit: null, 'infection-suspected': null }, SPECIFIC), DOS);
    expect(none.trace.length).toBeGreaterThan(0);
    expect(none.outcome).toBe('not-indicated');
    const uncomplicated: CriterionNode = {
      kind: 'all',
      id: 'NI',
      text: 'Uncomplicated acute pain',
      children: [fact('NI.1', 'acute'), { kind: 'not', id: 'NI.2', text: 'No red flags', child: { kind: 'ref', id: 'NI.2.flags', text: 'Red flags', ref: 'I.flags', unknownAs: false } }],
    };
    const p = policy({ exclusions: [uncomplicated], indications: [sectionI] });
    // Nothing documented: the red flags count as absent and NI is true (cited).
    const plain = evaluatePolicy(p, facts({ acute: true }, SPECIFIC), DOS);
    expect(plain.decidedBy?.id).toBe('NI');
    // Fever is on record (a specific fact on the infection branch): NI stays open and the rest is asked for.
    const fever = evaluatePolicy(p, facts({ acute: true, fever: true }, SPECIFIC), DOS);
    expect(fever.trace.find((n) => n.id === 'NI')?.value).toBe(null);
    expect(fever.outcome).toBe('documentation-missing');
    expect(fever.decidedBy?.id).toBe('I.C');
  });
});

describe('evaluatePolicy: a non-indication the record leaves open blocks approval (issue 12)', () => {
  const nonIndication: CriterionNode = {
    kind: 'all',
    id: 'NON.2',
    text: 'Disc disease and no surgery considered',
    children: [fact('NON.2.a', 'disc-disease'), { kind: 'not', id: 'NON.2.b', text: 'No surgery considered', child: fact('NON.2.b.0', 'surgery-considered') }],
  };
  const p = policy({ exclusions: [nonIndication], indications: [fact('IND.3', 'conservative-care-failed', { cite: true })] });

  it('decided on the record, it fires', () => {
    const r = evaluatePolicy(p, facts({ 'disc-disease': true, 'surgery-considered': false, 'conservative-care-failed': true }), DOS);
    expect(r.outcome).toBe('not-indicated');
    expect(r.decidedBy?.id).toBe('NON.2');
  });

  it('undetermined, it asks for the fact that decides it instead of approving', () => {
    const r = evaluatePolicy(p, facts({ 'disc-disease': true, 'conservative-care-failed': true }), DOS);
    expect(r.outcome).toBe('documentation-missing');
    expect(r.decidedBy?.id).toBe('NON.2');
    expect(r.blockedApproval?.id).toBe('IND.3');
    expect(r.missing[0].unknown.map((s) => s.fact)).toEqual(['surgery-considered']);
  });

  it('ruled out, the indication is met', () => {
    expect(evaluatePolicy(p, facts({ 'disc-disease': true, 'surgery-considered': true, 'conservative-care-failed': true }), DOS).outcome).toBe('criteria-met');
  });
});

describe('evaluatePolicy: what would change the answer is what this patient can reach (issue 12)', () => {
  const redFlag: CriterionNode = { kind: 'any', id: 'RED-FLAG', text: 'A red flag', unknownAs: false, children: [fact('RED-FLAG.1', 'deficit'), fact('RED-FLAG.2', 'infection-suspected')] };
  const p = policy({ indications: [sectionI, sectionII], redFlag });
  const chronicNoTherapy = { acute: false, subacute: true, therapy: false, 'radicular-sign': null, deficit: null, 'infection-suspected': null };

  it('offers the care still to give, never a red-flag path to a patient with no red flag', () => {
    const r = evaluatePolicy(p, facts(chronicNoTherapy, SPECIFIC), DOS);
    expect(r.outcome).toBe('not-indicated');
    expect(r.wouldChange.length).toBeGreaterThan(0);
    const asked = r.wouldChange.flatMap((c) => [...c.failed, ...c.unknown].map((s) => s.fact));
    expect(asked).toContain('therapy');
    expect(asked).not.toContain('deficit');
    expect(asked).not.toContain('infection-suspected');
  });

  it('never offers a path through a diagnosis the record rules out', () => {
    const r = evaluatePolicy(p, facts({ ...chronicNoTherapy, 'radicular-sign': false }, SPECIFIC), DOS);
    expect(r.wouldChange.flatMap((c) => c.failed.map((s) => s.fact))).not.toContain('radicular-sign');
  });
});
