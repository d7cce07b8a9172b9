/**
 * Acceptance scenarios written from the two seed policies and the service contract (sections 6
 * and 7), independently of the policy data: each builds a realistic record with the scenario
 * builder, signs the order through the HTTP API and checks what an EHR and a utilization reviewer
 * would see. They cover the defect classes of the issue "Clinical correctness" in variants the
 * fixtures do not: old problem lists, red flags on paths that fail for want of treatment, facts
 * given only as the order's reason or only as a documented finding, codes real EHRs and Synthea
 * send, non-indications decided on the record, the card's cited criterion and suggestions, and the
 * letter of the physical therapy rule.
 */
import type { Patient, Resource } from 'fhir/r4.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildScenario, type Scenario } from '../../scripts/fixtures/scenario.js';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { observedDecision, type ObservedOutcome } from '../support/outcome.js';

const { app } = createApp(testConfig());

const KP_2024 = '2024-06-12';
const KP_2023 = '2023-09-13';
const MA = '2025-11-20';

const LBP = { system: 'icd10', code: 'M54.50', display: 'Low back pain, unspecified' } as const;
const LBP_SCT = { system: 'snomed', code: '279039007', display: 'Low back pain' } as const;
const CHRONIC_LBP = { system: 'snomed', code: '278860009', display: 'Chronic low back pain (finding)' } as const;
const NOT_DENIED: readonly ObservedOutcome[] = ['criteria-met', 'documentation-missing', 'physician-review'];

interface Seen {
  readonly outcome: ObservedOutcome;
  readonly criterion?: string;
  readonly reason: string;
  readonly cards: string;
  readonly suggestions: string;
  readonly body: { cards: unknown[]; systemActions?: unknown[] };
}

async function sign(s: Scenario, edit?: (req: Record<string, unknown>) => void): Promise<Seen> {
  const built = buildScenario(s);
  edit?.(built.request);
  const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(built.request);
  expect(res.status).toBe(200);
  const seen = observedDecision(res.body);
  const reason =
    (seen.extension?.extension ?? []).find((e) => e.url === 'reason')?.valueCodeableConcept?.text ?? '';
  const cards = res.body.cards as { summary: string; detail?: string; suggestions?: { label: string; actions?: unknown[] }[] }[];
  return {
    outcome: seen.outcome,
    criterion: seen.criterion,
    reason,
    cards: cards.map((c) => `${c.summary}\n${c.detail ?? ''}`).join('\n'),
    suggestions: cards.flatMap((c) => c.suggestions ?? []).map((x) => `${x.label} ${JSON.stringify(x.actions ?? [])}`).join('\n'),
    body: res.body,
  };
}

function scenario(name: string, dateOfService: string, rest: Omit<Scenario, 'name' | 'description' | 'dateOfService' | 'patient' | 'order'> & Partial<Pick<Scenario, 'patient' | 'order'>>): Scenario {
  return {
    name: `acceptance-${name}`,
    description: name,
    dateOfService,
    patient: rest.patient ?? { gender: 'female', age: 52 },
    order: rest.order ?? { cpt: '72148', reason: [LBP_SCT] },
    ...rest,
  };
}

const kp = (name: string, rest: Parameters<typeof scenario>[2], dos = KP_2024) => scenario(name, dos, { coverage: [{ kind: 'kp-commercial' }], ...rest });
const ma = (name: string, rest: Parameters<typeof scenario>[2]) => scenario(name, MA, { coverage: [{ kind: 'medicare-advantage' }], patient: { gender: 'male', age: 71 }, ...rest });

describe('the current episode (old problem lists)', () => {
  it('a dormant M54.5 from six years ago does not make new cauda equina "chronic": criteria met', async () => {
    for (const dos of [KP_2024, KP_2023]) {
      const seen = await sign(
        kp('dormant-lbp-new-cauda-equina', {
          conditions: [
            { system: 'icd10', code: 'M54.5', display: 'Low back pain', onsetDaysAgo: 6 * 365 },
            { system: 'icd10', code: 'G83.4', display: 'Cauda equina syndrome', onsetDaysAgo: 3 },
          ],
        }, dos),
      );
      expect(seen.outcome).toBe('criteria-met');
      expect(seen.criterion).toBe('I.B');
    }
  });

  it('a dormant LBP and disc degeneration from years ago with a new LBP entry 10 days ago is acute: NI, physical therapy', async () => {
    const seen = await sign(
      kp('dormant-ddd-new-acute-episode', {
        patient: { gender: 'male', age: 44 },
        conditions: [
          { system: 'icd10', code: 'M54.5', display: 'Low back pain', onsetDaysAgo: 5 * 365 },
          { system: 'icd10', code: 'M51.36', display: 'Other intervertebral disc degeneration, lumbar region', onsetDaysAgo: 4 * 365 },
          { system: 'icd10', code: 'M54.50', display: 'Low back pain, unspecified', onsetDaysAgo: 10 },
        ],
      }),
    );
    expect(seen.outcome).toBe('not-indicated');
    expect(seen.criterion).toBe('NI');
    expect(seen.suggestions.toLowerCase()).toContain('physical therapy');
  });

  it('a years-old LBP with a new suspected discitis, fever and diabetes: I.C met', async () => {
    const seen = await sign(
      kp('dormant-lbp-new-discitis', {
        order: { cpt: '72158', reason: [LBP_SCT] },
        conditions: [
          { system: 'icd10', code: 'M54.5', display: 'Low back pain', onsetDaysAgo: 3 * 365 },
          { system: 'icd10', code: 'M46.46', display: 'Discitis, unspecified, lumbar region', onsetDaysAgo: 5, verification: 'provisional' },
          { system: 'icd10', code: 'E11.9', display: 'Type 2 diabetes mellitus without complications', onsetDaysAgo: 8 * 365 },
        ],
        observations: [{ system: 'loinc', code: '8310-5', display: 'Body temperature', daysAgo: 2, value: 38.6, unit: 'Cel' }],
      }),
    );
    expect(seen.outcome).toBe('criteria-met');
    expect(seen.criterion).toBe('I.C');
    expect(seen.suggestions).not.toMatch(/7210[0-9]|7211[0-9]|radiograph/i);
  });
});

describe('a red flag is never denied', () => {
  it('progressive deficit on day 43 with no physical therapy is not denied (either KP version)', async () => {
    for (const dos of [KP_2024, KP_2023]) {
      const seen = await sign(
        kp('day-43-progressive-deficit-no-pt', {
          conditions: [{ ...LBP, onsetDaysAgo: 43 }],
          findings: { 'progressive-neurologic-deficit': true },
        }, dos),
      );
      expect(NOT_DENIED).toContain(seen.outcome);
    }
  });

  it('chronic pain with breast cancer history and weight loss, no physical therapy, is not denied', async () => {
    const seen = await sign(
      kp('chronic-cancer-history-weight-loss-no-pt', {
        conditions: [
          { ...LBP, onsetDaysAgo: 200 },
          { system: 'icd10', code: 'C50.911', display: 'Malignant neoplasm of unspecified site of right female breast', onsetDaysAgo: 3 * 365 },
          { system: 'icd10', code: 'R63.4', display: 'Abnormal weight loss', onsetDaysAgo: 30 },
        ],
      }),
    );
    expect(NOT_DENIED).toContain(seen.outcome);
  });

  it('cauda equina on day 50 with no physical therapy (2023 text) is not denied, and the card says emergent imaging does not wait', async () => {
    const seen = await sign(
      kp('day-50-cauda-equina-2023', {
        conditions: [
          { ...LBP, onsetDaysAgo: 50 },
          { system: 'icd10', code: 'G83.4', display: 'Cauda equina syndrome', onsetDaysAgo: 2 },
        ],
      }, KP_2023),
    );
    expect(NOT_DENIED).toContain(seen.outcome);
    expect(seen.cards).toMatch(/emergen/i);
    expect(seen.cards).toMatch(/prior auth/i);
  });

  it('suspected fracture with osteoporosis and no lumbar films: not denied, radiographs first suggested', async () => {
    const seen = await sign(
      kp('osteoporosis-collapsed-vertebra-no-films', {
        patient: { gender: 'female', age: 68 },
        conditions: [
          { ...LBP, onsetDaysAgo: 6 },
          { system: 'icd10', code: 'M81.0', display: 'Age-related osteoporosis without current pathological fracture', onsetDaysAgo: 4 * 365 },
          { system: 'icd10', code: 'M48.56XA', display: 'Collapsed vertebra, not elsewhere classified, lumbar region, initial encounter for fracture', onsetDaysAgo: 6, verification: 'provisional' },
        ],
      }),
    );
    expect(NOT_DENIED).toContain(seen.outcome);
    expect(seen.suggestions).toMatch(/7210[0-9]|7211[0-9]/);
  });

  it('MA: cauda equina as the order reason is criteria met', async () => {
    const seen = await sign(
      ma('ma-cauda-equina-reason', {
        order: { cpt: '72148', reason: [{ system: 'snomed', code: '192970008', display: 'Cauda equina syndrome (disorder)' }] },
        conditions: [{ ...LBP, onsetDaysAgo: 4 }],
      }),
    );
    expect(seen.outcome).toBe('criteria-met');
  });
});

describe('every fact reads every source', () => {
  it('cauda equina given only as the order reason meets I.B', async () => {
    const seen = await sign(
      kp('cauda-equina-order-reason-only', {
        order: { cpt: '72148', reason: [{ system: 'icd10', code: 'G83.4', display: 'Cauda equina syndrome' }] },
        conditions: [{ ...LBP, onsetDaysAgo: 7 }],
      }),
    );
    expect(seen.outcome).toBe('criteria-met');
    expect(seen.criterion).toBe('I.B');
  });

  it('cauda equina as the order reasonReference meets I.B', async () => {
    const seen = await sign(
      kp('cauda-equina-reason-reference', {
        conditions: [
          { ...LBP, onsetDaysAgo: 7 },
          { system: 'snomed', code: '192970008', display: 'Cauda equina syndrome (disorder)', onsetDaysAgo: 1, verification: 'provisional' },
        ],
      }),
      (req) => {
        const ctx = req.context as { draftOrders: { entry: { resource: { reasonCode?: unknown; reasonReference?: unknown } }[] } };
        const conds = (req.prefetch as { conditions: { entry: { resource: Resource }[] } }).conditions.entry.map((e) => e.resource);
        const ces = conds.find((c) => JSON.stringify(c).includes('192970008'));
        const order = ctx.draftOrders.entry[0].resource;
        delete order.reasonCode;
        order.reasonReference = [{ reference: `Condition/${ces?.id}` }];
      },
    );
    expect(seen.outcome).toBe('criteria-met');
    expect(seen.criterion).toBe('I.B');
  });

  it('documented saddle anaesthesia with bladder and bowel function undocumented asks for it', async () => {
    const seen = await sign(
      kp('saddle-anesthesia-bladder-undocumented', {
        conditions: [{ ...LBP, onsetDaysAgo: 7 }],
        findings: { 'saddle-anesthesia': true },
      }),
    );
    expect(seen.outcome).toBe('documentation-missing');
    expect(seen.cards.toLowerCase()).toMatch(/bladder|bowel/);
    expect(seen.reason).not.toMatch(/criterion NI:/);
  });

  it('saddle anaesthesia with bladder or bowel dysfunction documented as a finding meets I.B', async () => {
    const seen = await sign(
      kp('saddle-anesthesia-bladder-documented', {
        conditions: [{ ...LBP, onsetDaysAgo: 7 }],
        findings: { 'saddle-anesthesia': true, 'bladder-or-bowel-dysfunction': true },
      }),
    );
    expect(seen.outcome).toBe('criteria-met');
    expect(seen.criterion).toBe('I.B');
  });

  it('suspected ankylosing spondylitis for 5 months counts as back pain for V.A.2', async () => {
    const seen = await sign(
      kp('suspected-as-no-lbp-code', {
        patient: { gender: 'male', age: 32 },
        order: { cpt: '72148', reason: [{ system: 'icd10', code: 'M45.9', display: 'Ankylosing spondylitis of unspecified sites in spine' }], requester: 'rheumatologist' },
        conditions: [{ system: 'icd10', code: 'M45.9', display: 'Ankylosing spondylitis of unspecified sites in spine', onsetDaysAgo: 150, verification: 'provisional' }],
        procedures: [{ system: 'cpt', code: '72100', display: 'Radiologic examination, spine, lumbosacral; 2 or 3 views', daysAgo: 30 }],
        findings: { 'plain-films-nondiagnostic': true, 'insidious-onset': true, 'improves-with-exercise': true, 'no-improvement-with-rest': true },
      }),
    );
    expect(seen.outcome).toBe('criteria-met');
    expect(seen.criterion).toMatch(/^V\.A/);
  });

  it('MA: treatment after a recent MRI (physical therapy on record) keeps the repeat-imaging non-indication from firing', async () => {
    const seen = await sign(
      ma('ma-recent-mri-then-pt', {
        conditions: [{ ...LBP, onsetDaysAgo: 120 }],
        procedures: [{ system: 'cpt', code: '72148', display: 'MRI lumbar spine without contrast', daysAgo: 60 }],
        physicalTherapy: { weeks: 5, endDaysAgo: 5 },
      }),
    );
    expect(seen.reason).not.toMatch(/criterion NON\.1/);
  });
});

describe('terminology on real data', () => {
  it('MA: a statin user is not approved as immunosuppressed', async () => {
    const seen = await sign(
      ma('ma-simvastatin-only', {
        conditions: [{ ...CHRONIC_LBP, onsetDaysAgo: 400 }],
        medications: [{ system: 'rxnorm', code: '316672', display: 'Simvastatin 10 MG Oral Tablet', daysAgo: 30 }],
      }),
    );
    expect(seen.outcome).not.toBe('criteria-met');
  });

  it('MA: a five-day prednisone burst a week ago is not a history of immune suppression; prednisone taken for four months is', async () => {
    const burst = await sign(
      ma('ma-prednisone-burst', {
        conditions: [{ ...LBP, onsetDaysAgo: 20 }],
        medications: [{ system: 'rxnorm', code: '312617', display: 'predniSONE 5 MG Oral Tablet', daysAgo: 7, status: 'stopped' }],
      }),
    );
    expect(burst.outcome).not.toBe('criteria-met');
    const chronic = await sign(
      ma('ma-prednisone-chronic', {
        conditions: [{ ...LBP, onsetDaysAgo: 20 }],
        medications: [{ system: 'rxnorm', code: '312617', display: 'predniSONE 5 MG Oral Tablet', daysAgo: 120, status: 'active' }],
      }),
    );
    expect(chronic.outcome).toBe('criteria-met');
    expect(chronic.criterion).toBe('IND.1.13');
  });

  it('MA: Synthea colon cancer (SNOMED 363406005) is a history of cancer', async () => {
    const seen = await sign(
      ma('ma-synthea-colon-cancer', {
        conditions: [
          { ...CHRONIC_LBP, onsetDaysAgo: 400 },
          { system: 'snomed', code: '363406005', display: 'Malignant neoplasm of colon', onsetDaysAgo: 700 },
        ],
      }),
    );
    expect(seen.outcome).toBe('criteria-met');
  });

  it('MA: metastatic prostate cancer (SNOMED 314994000) is a history of cancer', async () => {
    const seen = await sign(
      ma('ma-metastatic-prostate', {
        conditions: [
          { ...LBP, onsetDaysAgo: 20 },
          { system: 'snomed', code: '314994000', display: 'Metastasis from malignant tumor of prostate', onsetDaysAgo: 300 },
        ],
      }),
    );
    expect(seen.outcome).toBe('criteria-met');
  });

  it('MA: R53.1 (weakness, asthenia) is not clinically significant motor weakness', async () => {
    const seen = await sign(
      ma('ma-r53-1-only', {
        conditions: [
          { ...LBP, onsetDaysAgo: 20 },
          { system: 'icd10', code: 'R53.1', display: 'Weakness', onsetDaysAgo: 10 },
        ],
      }),
    );
    expect(seen.outcome).not.toBe('criteria-met');
  });

  it('MA: sepsis resolved three weeks ago is a recent bacterial infection', async () => {
    const seen = await sign(
      ma('ma-resolved-sepsis', {
        conditions: [
          { ...LBP, onsetDaysAgo: 10 },
          { system: 'icd10', code: 'A41.9', display: 'Sepsis, unspecified organism', onsetDaysAgo: 35, clinicalStatus: 'resolved', abatementDaysAgo: 21 },
        ],
      }),
    );
    expect(seen.outcome).toBe('criteria-met');
  });

  it('KP: colon cancer coded C18.7 (ICD hierarchy), weight loss and age 55 with non-diagnostic films meet I.D', async () => {
    const seen = await sign(
      kp('icd-c18-7-weight-loss', {
        order: { cpt: '72158', reason: [LBP_SCT] },
        patient: { gender: 'male', age: 55 },
        conditions: [
          { ...LBP, onsetDaysAgo: 12 },
          { system: 'icd10', code: 'C18.7', display: 'Malignant neoplasm of sigmoid colon', onsetDaysAgo: 400 },
          { system: 'icd10', code: 'R63.4', display: 'Abnormal weight loss', onsetDaysAgo: 40 },
        ],
        procedures: [{ system: 'cpt', code: '72100', display: 'Radiologic examination, spine, lumbosacral; 2 or 3 views', daysAgo: 5 }],
        findings: { 'plain-films-nondiagnostic': true },
      }),
    );
    expect(seen.outcome).toBe('criteria-met');
    expect(seen.criterion).toBe('I.D');
  });
});

describe('non-indications decided on the record', () => {
  const hnp = { system: 'icd10', code: 'M51.26', display: 'Other intervertebral disc displacement, lumbar region', onsetDaysAgo: 60 } as const;

  it('MA: herniated disc, no red flag, surgery documented as not under consideration: not indicated (NON.2)', async () => {
    const seen = await sign(
      ma('ma-hnp-no-surgery', {
        conditions: [{ ...LBP, onsetDaysAgo: 60 }, hnp],
        physicalTherapy: { weeks: 5, endDaysAgo: 5 },
        findings: { 'surgery-under-consideration': false, 'no-improvement-after-conservative-care': true },
      }),
    );
    expect(seen.outcome).toBe('not-indicated');
    expect(seen.criterion).toMatch(/^NON\.2/);
  });

  it('MA: herniated disc with surgery consideration undocumented is not approved automatically', async () => {
    const seen = await sign(
      ma('ma-hnp-surgery-undocumented', {
        conditions: [{ ...LBP, onsetDaysAgo: 60 }, hnp],
        physicalTherapy: { weeks: 5, endDaysAgo: 5 },
        findings: { 'no-improvement-after-conservative-care': true },
      }),
    );
    expect(seen.outcome).not.toBe('criteria-met');
  });

  it('MA: MRI 45 days ago, no treatment since, symptoms unchanged: not indicated (NON.1)', async () => {
    const seen = await sign(
      ma('ma-repeat-no-treatment', {
        conditions: [{ ...LBP, onsetDaysAgo: 150 }],
        procedures: [{ system: 'cpt', code: '72148', display: 'MRI lumbar spine without contrast', daysAgo: 45 }],
        findings: { 'new-or-worsening-symptoms': false },
      }),
    );
    expect(seen.outcome).toBe('not-indicated');
    expect(seen.criterion).toMatch(/^NON\.1/);
  });
});

describe('cards tell the truth', () => {
  it('cancer history without the other factors never cites NI', async () => {
    const seen = await sign(
      kp('acute-cancer-history-films-undocumented', {
        patient: { gender: 'female', age: 45 },
        conditions: [
          { ...LBP, onsetDaysAgo: 10 },
          { system: 'icd10', code: 'Z85.3', display: 'Personal history of malignant neoplasm of breast', onsetDaysAgo: 5 * 365 },
        ],
      }),
    );
    expect(seen.reason).not.toMatch(/criterion NI:/);
    expect(seen.cards).not.toMatch(/uncomplicated acute low back pain, no red flags/i);
  });

  it('a 99-year-old with chronic pain is not offered ankylosing spondylitis criteria', async () => {
    const seen = await sign(
      kp('age-99-chronic-no-pt', {
        patient: { gender: 'female', age: 99 },
        conditions: [{ ...CHRONIC_LBP, onsetDaysAgo: 400 }],
      }),
    );
    expect(seen.outcome).not.toBe('criteria-met');
    expect(seen.cards).not.toMatch(/ankylosing|younger than age 40|rheumatolog/i);
  });

  it('a II.A approval names the alternative that met (radiculopathy)', async () => {
    const seen = await sign(
      kp('ii-a-radiculopathy-met', {
        conditions: [
          { ...LBP, onsetDaysAgo: 60 },
          { system: 'icd10', code: 'M54.16', display: 'Radiculopathy, lumbar region', onsetDaysAgo: 55 },
        ],
        physicalTherapy: { weeks: 5, endDaysAgo: 3 },
        medications: [{ system: 'rxnorm', code: '310965', display: 'Ibuprofen 200 MG Oral Tablet', daysAgo: 50 }],
        findings: { 'no-improvement-after-conservative-care': true, 'leg-pain-exceeds-back-pain': true, 'straight-leg-raise-positive': true },
      }),
    );
    expect(seen.outcome).toBe('criteria-met');
    expect(seen.criterion).toMatch(/^II\.A/);
    expect(`${seen.reason}\n${seen.cards}`.toLowerCase()).toContain('radiculopathy');
  });
});

describe('suggestions are safe', () => {
  it('no "physical therapy instead" to a chronic patient who completed therapy', async () => {
    const seen = await sign(
      kp('chronic-completed-pt', {
        conditions: [{ ...LBP, onsetDaysAgo: 200 }],
        physicalTherapy: { weeks: 6, endDaysAgo: 10 },
        findings: { 'no-improvement-after-conservative-care': true },
      }),
    );
    expect(seen.suggestions.toLowerCase()).not.toMatch(/no imaging|refer to physical therapy/);
  });

  it('age 75 alone with acute pain: no radiographs-first suggestion (a risk factor alone)', async () => {
    const seen = await sign(
      kp('age-75-acute-uncomplicated', {
        patient: { gender: 'male', age: 75 },
        conditions: [{ ...LBP, onsetDaysAgo: 9 }],
      }),
    );
    expect(seen.outcome).toBe('not-indicated');
    expect(seen.suggestions).not.toMatch(/7210[0-9]|7211[0-9]/);
  });

  it('a deceased patient gets no decision, and a card says why', async () => {
    const seen = await sign(
      kp('deceased-patient', { conditions: [{ ...LBP, onsetDaysAgo: 9 }] }),
      (req) => {
        (req.prefetch as { patient: Patient }).patient.deceasedDateTime = `${KP_2024.slice(0, 8)}01`;
      },
    );
    expect(seen.outcome).toBe('no-coverage');
    expect(seen.cards.toLowerCase()).toMatch(/deceased|died/);
  });
});

describe('the letter of the physical therapy rule', () => {
  const radicular = {
    'no-improvement-after-conservative-care': true,
    'leg-pain-exceeds-back-pain': true,
    'straight-leg-raise-positive': true,
  };
  const followUps = (fromDaysAgo: number, toDaysAgo: number) => {
    const out = [];
    for (let d = fromDaysAgo; d >= toDaysAgo; d -= 7) out.push({ system: 'cpt' as const, code: '97110', display: 'Therapeutic exercises', daysAgo: d });
    return out;
  };

  it('an evaluation before the 6-month window does not count, and sessions in the window do not stand in for it', async () => {
    const seen = await sign(
      kp('pt-evaluation-outside-window', {
        conditions: [
          { ...LBP, onsetDaysAgo: 300 },
          { system: 'icd10', code: 'M54.16', display: 'Radiculopathy, lumbar region', onsetDaysAgo: 290 },
        ],
        procedures: [{ system: 'cpt', code: '97162', display: 'Physical therapy evaluation: moderate complexity', daysAgo: 200 }, ...followUps(150, 20)],
        findings: radicular,
      }),
    );
    expect(seen.outcome).not.toBe('criteria-met');
  });

  it('with no evaluation coded at all (as Synthea writes), the first in-window session stands in', async () => {
    const seen = await sign(
      kp('pt-synthea-sessions-no-evaluation', {
        conditions: [
          { ...LBP, onsetDaysAgo: 300 },
          { system: 'icd10', code: 'M54.16', display: 'Radiculopathy, lumbar region', onsetDaysAgo: 290 },
        ],
        physicalTherapy: { weeks: 6, endDaysAgo: 10, code: 'synthea' },
        findings: radicular,
      }),
    );
    expect(seen.outcome).toBe('criteria-met');
  });
});
