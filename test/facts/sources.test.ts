/**
 * Every fact reads every source (contract section 7): a diagnosis fact also reads the order's own
 * reasonCode, and a fact with a documentation-finding code also reads the clinician's note. Walked over
 * the whole fact catalogue, so a fact added later is held to the same rule.
 */
import type { Condition, DiagnosticReport, Observation, Patient, Procedure, Resource, ServiceRequest } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import type { FactExpr, FactSource } from '../../src/facts/catalogue.js';
import { FactContext } from '../../src/facts/FactContext.js';
import { loadLibrary } from '../../src/library/library.js';
import { PatientRecord } from '../../src/record/PatientRecord.js';
import { SYSTEMS } from '../../src/terminology/valueSets.js';

const library = loadLibrary();
const DOS = '2025-11-05';
const patient: Patient = { resourceType: 'Patient', id: 'p1', birthDate: '1960-03-02', gender: 'female' };
const lowBackPain: Condition = {
  resourceType: 'Condition',
  id: 'lbp',
  subject: { reference: 'Patient/p1' },
  clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
  code: { coding: [{ system: SYSTEMS.icd10cm, code: 'M54.50', display: 'Low back pain, unspecified' }] },
  onsetDateTime: '2025-10-20',
};

function context(reason: { system: string; code: string } | undefined, extra: Resource[] = []): FactContext {
  const order: ServiceRequest = {
    resourceType: 'ServiceRequest',
    id: 'order',
    status: 'draft',
    intent: 'original-order',
    subject: { reference: 'Patient/p1' },
    code: { coding: [{ system: SYSTEMS.cpt, code: '72148' }] },
    ...(reason ? { reasonCode: [{ coding: [reason] }] } : {}),
  };
  return new FactContext(library.facts, new PatientRecord('p1', [patient, lowBackPain, ...extra], library.valueSets), order, DOS);
}

/** Condition sources a fact's truth follows directly (the fact itself, or one branch of a top-level `any`). */
function directConditionSources(e: FactExpr): Extract<FactSource, { source: 'condition' }>[] {
  if ('source' in e && e.source === 'condition') return [e];
  if ('any' in e) return e.any.flatMap((x) => ('source' in x && x.source === 'condition' ? [x] : []));
  return [];
}

const conditionFacts = Object.entries(library.facts.definitions).flatMap(([id, def]) =>
  directConditionSources(def.derive)
    .filter((s) => s.verification !== 'confirmed')
    .map((s) => {
      const inc = library.valueSets.definitions[s.valueSet].include[0];
      return [id, s.valueSet, { system: inc.system, code: inc.codes[0] ?? inc.prefixes[0] }] as const;
    }),
);

describe("a diagnosis fact also reads the order's reason", () => {
  it('has diagnosis facts to check', () => {
    expect(conditionFacts.length).toBeGreaterThan(20);
  });

  it.each(conditionFacts)('%s: a reasonCode in %s makes it true', (fact, _vs, coding) => {
    expect(context(undefined).fact(fact).value).not.toBe(true);
    const f = context(coding).fact(fact);
    expect(f.value).toBe(true);
    expect(f.evidence).toContain('ServiceRequest/order');
  });

  it('a confirmed diagnosis is never taken from the order reason (the reason is what is suspected)', () => {
    expect(context({ system: SYSTEMS.icd10cm, code: 'M45.6' }).fact('as-confirmed').value).toBe(false);
    expect(context({ system: SYSTEMS.icd10cm, code: 'M45.6' }).fact('as-indication').value).toBe(true);
  });
});

const findingFacts = Object.entries(library.facts.definitions).filter(([, def]) => def.finding !== undefined);

function note(code: string, value: boolean): Observation {
  return {
    resourceType: 'Observation',
    id: `note-${code}`,
    status: 'final',
    code: { coding: [{ system: SYSTEMS.finding, code }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: '2025-11-04',
    valueBoolean: value,
  };
}

describe('a fact with a finding code also reads the note', () => {
  it('has such facts (bladder and bowel dysfunction, other acute fracture)', () => {
    expect(findingFacts.map(([id]) => id)).toEqual(expect.arrayContaining(['bladder-dysfunction', 'bowel-dysfunction', 'other-acute-fracture']));
  });

  it.each(findingFacts)('%s: documented present is true, documented absent is false, neither coded nor documented is unknown', (fact, def) => {
    const code = def.finding as string;
    expect(context(undefined, [note(code, true)]).fact(fact).value).toBe(true);
    expect(context(undefined, [note(code, false)]).fact(fact).value).toBe(false);
    expect(context(undefined).fact(fact).value).toBeNull();
  });
});

describe('treatment since the last imaging, from the record', () => {
  const mri = (daysAgoDate: string): DiagnosticReport => ({
    resourceType: 'DiagnosticReport',
    id: `mri-${daysAgoDate}`,
    status: 'final',
    code: { coding: [{ system: SYSTEMS.cpt, code: '72148' }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: daysAgoDate,
  });
  const pt = (date: string): Procedure => ({
    resourceType: 'Procedure',
    id: `pt-${date}`,
    status: 'completed',
    code: { coding: [{ system: SYSTEMS.cpt, code: '97110' }] },
    subject: { reference: 'Patient/p1' },
    performedDateTime: date,
  });
  const injection = (date: string): Procedure => ({
    resourceType: 'Procedure',
    id: `esi-${date}`,
    status: 'completed',
    code: { coding: [{ system: SYSTEMS.cpt, code: '62323' }] },
    subject: { reference: 'Patient/p1' },
    performedDateTime: date,
  });

  it('physical therapy or an epidural injection after the MRI is treatment; before it is not', () => {
    expect(context(undefined, [mri('2025-09-20'), pt('2025-10-01')]).fact('treatment-since-last-imaging').value).toBe(true);
    expect(context(undefined, [mri('2025-09-20'), injection('2025-10-15')]).fact('treatment-since-last-imaging').value).toBe(true);
    expect(context(undefined, [pt('2025-09-01'), mri('2025-09-20')]).fact('treatment-since-last-imaging').value).toBe(false);
  });

  it('without prior imaging there is no interval to read: unknown unless documented', () => {
    expect(context(undefined, [pt('2025-10-01')]).fact('treatment-since-last-imaging').value).toBeNull();
    expect(context(undefined, [note('treatment-since-last-imaging', true)]).fact('treatment-since-last-imaging').value).toBe(true);
  });
});
