/**
 * The current episode of back pain (cds-services/common/facts.json, `low-back-pain` interpretation), read
 * from realistic records built by the scenario generator: each test states the clinical picture and
 * the phase a clinician would give it.
 */
import type { Resource, ServiceRequest } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { buildScenario, type Scenario } from '../../scripts/fixtures/scenario.js';
import { FactContext } from '../../src/facts/FactContext.js';
import { loadLibrary } from '../../src/library/library.js';
import { PatientRecord } from '../../src/record/PatientRecord.js';

const library = loadLibrary();
const DOS = '2024-06-12';

type Picture = Partial<Pick<Scenario, 'conditions' | 'encounters' | 'order' | 'procedures' | 'physicalTherapy'>>;

function facts(name: string, picture: Picture): FactContext {
  const built = buildScenario({
    name,
    description: name,
    dateOfService: DOS,
    patient: { gender: 'female', age: 50 },
    ...picture,
    order: picture.order ?? { cpt: '72148', reason: [{ system: 'icd10', code: 'M54.50', display: 'Low back pain, unspecified' }] },
  });
  const order = built.resources.find((r): r is ServiceRequest => r.resourceType === 'ServiceRequest');
  const patient = built.resources.find((r) => r.resourceType === 'Patient') as Resource;
  if (!order) throw new Error('no order');
  const record = new PatientRecord(patient.id ?? '', built.resources.filter((r) => r !== order), library.valueSets);
  return new FactContext(library.facts, record, order, DOS);
}

const phase = (f: FactContext) => ({
  acute: f.fact('acute-low-back-pain').value,
  subacute: f.fact('subacute-low-back-pain').value,
  chronic: f.fact('chronic-low-back-pain').value,
});

const M545 = { system: 'icd10', code: 'M54.5', display: 'Low back pain' } as const;
const M5450 = { system: 'icd10', code: 'M54.50', display: 'Low back pain, unspecified' } as const;

describe('the current episode of low back pain', () => {
  it('a dormant M54.5 from four years ago and a new M54.50 twelve days ago: a new, acute episode', () => {
    const f = facts('dormant-then-new', { conditions: [{ ...M545, onsetDaysAgo: 1460 }, { ...M5450, onsetDaysAgo: 12 }] });
    expect(phase(f)).toEqual({ acute: true, subacute: false, chronic: false });
    expect(f.episode().onset).toBe('2024-05-31');
  });

  it('the same M54.5 with back pain visits every few months up to the new entry: one continuous, chronic episode', () => {
    const f = facts('continuous', {
      conditions: [{ ...M545, onsetDaysAgo: 1460 }, { ...M5450, onsetDaysAgo: 12 }],
      encounters: [1300, 1150, 1000, 850, 700, 560, 420, 280, 140, 12].map((daysAgo) => ({ daysAgo, reason: M5450 })),
    });
    expect(phase(f)).toEqual({ acute: false, subacute: false, chronic: true });
    expect(f.episode().onset).toBe('2020-06-13');
  });

  it('a gap of a little under 6 months between visits keeps the episode; a little over starts a new one', () => {
    const within = facts('gap-within', { conditions: [{ ...M5450, onsetDaysAgo: 200 }], encounters: [{ daysAgo: 30, reason: M5450 }] });
    expect(within.episode().onset).toBe('2023-11-25');
    const beyond = facts('gap-beyond', { conditions: [{ ...M5450, onsetDaysAgo: 230 }], encounters: [{ daysAgo: 30, reason: M5450 }] });
    expect(beyond.episode().onset).toBe('2024-05-13');
    expect(phase(beyond).acute).toBe(true);
  });

  it('degenerative diagnoses date the disease, not the pain: stenosis and disc degeneration for years, back pain for 9 weeks', () => {
    const f = facts('degenerative', {
      conditions: [
        { system: 'icd10', code: 'M48.061', display: 'Spinal stenosis, lumbar region without neurogenic claudication', onsetDaysAgo: 2000 },
        { system: 'icd10', code: 'M51.36', display: 'Other intervertebral disc degeneration, lumbar region', onsetDaysAgo: 1500 },
        { ...M5450, onsetDaysAgo: 63 },
      ],
    });
    expect(phase(f)).toEqual({ acute: false, subacute: true, chronic: false });
  });

  it('a degenerative diagnosis alone leaves the onset of the pain unknown (asked for), not chronic', () => {
    const f = facts('degenerative-only', {
      conditions: [{ system: 'icd10', code: 'M51.26', display: 'Other intervertebral disc displacement, lumbar region', onsetDaysAgo: 900 }],
    });
    expect(f.fact('low-back-pain').value).toBe(true);
    expect(phase(f)).toEqual({ acute: null, subacute: null, chronic: null });
  });

  it('cauda equina five days ago after a dormant back pain history dates a new, acute episode', () => {
    const f = facts('red-flag-new-episode', {
      conditions: [{ ...M545, onsetDaysAgo: 1200 }, { system: 'icd10', code: 'G83.4', display: 'Cauda equina syndrome', onsetDaysAgo: 5 }],
    });
    expect(phase(f).acute).toBe(true);
  });

  it('cauda equina within an ongoing episode does not shorten it', () => {
    const f = facts('red-flag-same-episode', {
      conditions: [{ ...M5450, onsetDaysAgo: 70 }, { system: 'icd10', code: 'G83.4', display: 'Cauda equina syndrome', onsetDaysAgo: 5 }],
    });
    expect(phase(f).subacute).toBe(true);
  });

  it('a resolved episode closes: back pain again 2 months after it abated is a new episode', () => {
    const f = facts('resolved-then-new', {
      conditions: [
        { ...M5450, onsetDaysAgo: 300, clinicalStatus: 'resolved', abatementDaysAgo: 80 },
        { system: 'icd10', code: 'M54.59', display: 'Other low back pain', onsetDaysAgo: 20 },
      ],
      encounters: [{ daysAgo: 150, reason: M5450 }],
    });
    expect(phase(f).acute).toBe(true);
  });

  it('a resolved strain does not erase low back pain still active on the problem list with visits since', () => {
    const f = facts('resolved-strain-active-lbp', {
      conditions: [
        { ...M545, onsetDaysAgo: 400 },
        { system: 'icd10', code: 'S39.012A', display: 'Strain of muscle, fascia and tendon of lower back, initial encounter', onsetDaysAgo: 300, clinicalStatus: 'resolved', abatementDaysAgo: 280 },
      ],
      encounters: [250, 120, 30].map((daysAgo) => ({ daysAgo, reason: M545 })),
    });
    expect(phase(f).chronic).toBe(true);
    expect(f.episode().onset).toBe('2023-05-09');
  });

  it('a chronic low back pain code says chronic when it belongs to the current episode, not when it is older than it', () => {
    const chronic = { system: 'snomed', code: '278860009', display: 'Chronic low back pain (finding)' } as const;
    const inEpisode = facts('chronic-code-current', { conditions: [{ ...chronic, onsetDaysAgo: 30 }] });
    expect(phase(inEpisode).chronic).toBe(true);
    const older = facts('chronic-code-old', { conditions: [{ ...chronic, onsetDaysAgo: 1500 }, { ...M5450, onsetDaysAgo: 15 }] });
    expect(phase(older)).toEqual({ acute: true, subacute: false, chronic: false });
  });

  it('suspected ankylosing spondylitis is back pain: present for 5 months with no low back pain code', () => {
    const f = facts('as-only', {
      order: { cpt: '72148', reason: [{ system: 'icd10', code: 'M45.9', display: 'Ankylosing spondylitis of unspecified sites in spine' }] },
      conditions: [{ system: 'icd10', code: 'M45.9', display: 'Ankylosing spondylitis of unspecified sites in spine', onsetDaysAgo: 150, verification: 'provisional' }],
    });
    expect(f.fact('low-back-pain').value).toBe(true);
    expect(phase(f).chronic).toBe(true);
  });

  it('physical therapy before the current episode does not count for it ("remote past history of physical therapy does not qualify")', () => {
    const f = facts('remote-pt', {
      conditions: [{ ...M545, onsetDaysAgo: 1000 }, { ...M5450, onsetDaysAgo: 100 }],
      physicalTherapy: { weeks: 6, endDaysAgo: 700 },
    });
    expect(f.fact('pt-4-weeks-last-6-months').value).toBe(false);
    expect(f.fact('conservative-care-6-weeks').value).not.toBe(true);
  });
});
