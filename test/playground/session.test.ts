import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Coverage, QuestionnaireResponse, ServiceRequest } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { COVERAGE_INFORMATION_URL as SERVICE_URL } from '../../src/cards/coverageInformation.js';
import { COVERAGE_INFORMATION_URL, coverageSummaries } from '../../playground/src/coverageInformation.js';
import { completedResponse } from '../../playground/src/questionnaire.js';
import { applyActions, applyChoices, dateForPreset, hookRequest, packageRequest, patientBanner, primaryOrder, sessionFromBundle, sessionFromRequest } from '../../playground/src/session.js';

const ROOT = join(import.meta.dirname, '..', '..');
const cauda = JSON.parse(readFileSync(join(ROOT, 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json'), 'utf8'));

describe('playground session', () => {
  it('builds order-select and order-sign requests from a fixture with the chosen study, date and coverage', () => {
    const s = sessionFromRequest(cauda);
    applyChoices(s, { study: '72158', dateOfService: '2024-07-01', coverage: 'preset:medicare-advantage' });
    const select = hookRequest(s, 'order-select', { study: '72158', dateOfService: '2024-07-01', coverage: 'preset:medicare-advantage' });
    const order = select.context.draftOrders.entry?.[0]?.resource as ServiceRequest;
    expect(select.context.selections).toEqual([`ServiceRequest/${order.id}`]);
    expect(order.code?.coding?.[0]).toMatchObject({ system: 'http://www.ama-assn.org/go/cpt', code: '72158' });
    expect(order.occurrenceDateTime).toBe('2024-07-01');
    expect(order.insurance).toEqual([{ reference: 'Coverage/cov-playground-medicare-advantage' }]);
    const coverage = (select.prefetch?.coverage as Bundle).entry?.map((e) => e.resource?.resourceType);
    expect(coverage).toEqual(['Coverage', 'Organization']);
    const sign = hookRequest(s, 'order-sign', { study: '72158', dateOfService: '2024-07-01', coverage: 'none' });
    expect(sign.context.selections).toBeUndefined();
    expect((sign.prefetch?.coverage as Bundle).entry).toEqual([]);
  });

  it('sorts a pasted Bundle into the prefetch keys and drafts a lumbar MRI order', () => {
    const resources = Object.values(cauda.prefetch as Record<string, any>).flatMap((v) => (v?.resourceType === 'Bundle' ? v.entry.map((e: any) => e.resource) : v ? [v] : []));
    const s = sessionFromBundle({ resourceType: 'Bundle', type: 'collection', entry: resources.map((resource: unknown) => ({ resource })) });
    expect(s.patientId).toBe(cauda.context.patientId);
    expect((s.prefetch.conditions as Bundle).entry?.length).toBe(cauda.prefetch.conditions.entry.length);
    expect((s.prefetch.coverage as Bundle).entry?.map((e) => e.resource?.resourceType)).toEqual(['Coverage', 'Organization']);
    expect(primaryOrder(s)?.code?.coding?.[0]?.code).toBe('72148');
    expect(() => sessionFromBundle({ resourceType: 'Patient' })).toThrow(/Bundle/);
  });

  it('applies suggestion actions to the drafts: update, delete, create', () => {
    const s = sessionFromRequest(cauda);
    const order = primaryOrder(s) as ServiceRequest;
    applyActions(s, [{ type: 'update', description: 'to 72148', resource: { ...order, code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '72148' }] } } }]);
    expect(primaryOrder(s)?.code?.coding?.[0]?.code).toBe('72148');
    applyActions(s, [
      { type: 'delete', description: 'drop MRI', resourceId: `ServiceRequest/${order.id}` },
      { type: 'create', description: 'radiographs', resource: { resourceType: 'ServiceRequest', id: 'xr', status: 'draft', intent: 'original-order', subject: order.subject } },
    ]);
    expect(s.drafts.map((d) => d.id)).toEqual(['xr']);
  });
});

describe('playground coverage information and questionnaire', () => {
  it('uses the service extension URL', () => {
    expect(COVERAGE_INFORMATION_URL).toBe(SERVICE_URL);
  });

  it('reads the coverage information in plain words', () => {
    const order: ServiceRequest = {
      resourceType: 'ServiceRequest', id: 'sr-1', status: 'draft', intent: 'original-order', subject: { reference: 'Patient/p' },
      extension: [{ url: COVERAGE_INFORMATION_URL, extension: [
        { url: 'coverage', valueReference: { reference: 'Coverage/c' } },
        { url: 'covered', valueCode: 'covered' },
        { url: 'pa-needed', valueCode: 'auth-needed' },
        { url: 'doc-needed', valueCode: 'clinical' },
        { url: 'doc-purpose', valueCode: 'withpa' },
        { url: 'reason', valueCodeableConcept: { text: 'KP criteria (effective 2024-01-01): criterion I.B: Suspect cauda equina' } },
        { url: 'questionnaire', valueCanonical: 'http://x/fhir/Questionnaire/kp' },
      ] }],
    };
    expect(coverageSummaries(order)).toEqual([expect.objectContaining({
      covered: 'Covered',
      priorAuthorization: 'Prior authorization needed',
      documentation: 'Clinical documentation needed: send it with the prior authorization request',
      policy: 'KP criteria (effective 2024-01-01)',
      criterion: 'criterion I.B: Suspect cauda equina',
      questionnaire: 'http://x/fhir/Questionnaire/kp',
    })]);
  });

  it('completes the renderer\'s response: answered items only, the draft\'s context kept, each answer\'s origin', () => {
    const origin = (source: string) => ({ url: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin', extension: [{ url: 'source', valueCode: source }] });
    const draft: QuestionnaireResponse = {
      resourceType: 'QuestionnaireResponse', status: 'in-progress', questionnaire: 'http://x/fhir/Questionnaire/kp|1',
      meta: { profile: ['http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse'] },
      extension: [{ url: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-coverage', valueReference: { reference: 'Coverage/c' } }],
      item: [{ linkId: 'I.B', item: [{ linkId: 'saddle-anesthesia', answer: [{ valueBoolean: false, extension: [origin('auto-server')] }] }, { linkId: 'urinary-retention', answer: [{ valueBoolean: true }] }] }],
    };
    // What LHC-Forms gives back: groups, answered and unanswered items, no origins.
    const rendered: QuestionnaireResponse = {
      resourceType: 'QuestionnaireResponse', status: 'in-progress',
      item: [
        { linkId: 'I.B', text: 'Cauda equina', item: [
          { linkId: 'saddle-anesthesia', text: 'Saddle numbness', answer: [{ valueBoolean: true }] },
          { linkId: 'urinary-retention', text: 'Retention', answer: [{ valueBoolean: true }] },
          { linkId: 'anal-sphincter-laxity', text: 'Laxity' },
        ] },
        { linkId: 'II', item: [{ linkId: 'insidious-onset' }] },
        { linkId: 'III', item: [{ linkId: 'progressive-deficit', answer: [{ valueBoolean: false }] }] },
      ],
    };
    const qr = completedResponse(rendered, draft, { id: 'qr-1', canonical: 'http://x/fhir/Questionnaire/kp', patientId: 'p', authored: '2024-06-12T12:00:00Z' });
    expect(qr).toMatchObject({
      resourceType: 'QuestionnaireResponse', id: 'qr-1', status: 'completed', questionnaire: 'http://x/fhir/Questionnaire/kp',
      subject: { reference: 'Patient/p' }, authored: '2024-06-12T12:00:00Z', extension: draft.extension, meta: { profile: draft.meta?.profile },
    });
    expect(qr.item).toEqual([
      { linkId: 'I.B', text: 'Cauda equina', item: [
        { linkId: 'saddle-anesthesia', text: 'Saddle numbness', answer: [{ valueBoolean: true, extension: [origin('override')] }] },
        { linkId: 'urinary-retention', text: 'Retention', answer: [{ valueBoolean: true, extension: [origin('auto-server')] }] },
      ] },
      { linkId: 'III', item: [{ linkId: 'progressive-deficit', answer: [{ valueBoolean: false, extension: [origin('manual')] }] }] },
    ]);
  });

  it('asks the DTR payer for the package of the order\'s coverage assertion, with the Coverage and the order', () => {
    const s = sessionFromRequest(cauda);
    const picked = { study: '72148', dateOfService: '2025-11-03', coverage: 'preset:medicare-advantage' } as const;
    applyChoices(s, picked);
    const p = packageRequest(s, picked, 'ca-1');
    expect(p.parameter?.map((x) => x.name)).toEqual(['coverage', 'order', 'context']);
    expect(p.parameter?.[0]?.resource).toMatchObject({ resourceType: 'Coverage', id: 'cov-playground-medicare-advantage' } satisfies Partial<Coverage>);
    expect(p.parameter?.[1]?.resource).toMatchObject({ resourceType: 'ServiceRequest', id: s.primaryId, insurance: [{ reference: 'Coverage/cov-playground-medicare-advantage' }] });
    expect(p.parameter?.[2]).toEqual({ name: 'context', valueString: 'ca-1' });
  });
});

describe('payer presets and the patient banner', () => {
  it('a Medicare Advantage preset moves a date before the policy (2025-10-02) into it; the KP presets keep any date', () => {
    expect(dateForPreset('medicare-advantage', '2024-06-12')).toBe('2025-10-02');
    expect(dateForPreset('medicare-advantage', '2026-01-15')).toBe('2026-01-15');
    expect(dateForPreset('kp-commercial', '2023-09-13')).toBe('2023-09-13');
  });

  it('names the patient, the age at the date of service and the sex', () => {
    const s = { patientId: 'p1', prefetch: { patient: { resourceType: 'Patient' as const, id: 'p1', name: [{ given: ['Ana'], family: 'Lopez' }], birthDate: '1960-06-13', gender: 'female' as const } } };
    expect(patientBanner(s, '2024-06-12')).toBe('Ana Lopez · 63 y · Female');
    expect(patientBanner(s, '2024-06-13')).toBe('Ana Lopez · 64 y · Female');
    expect(patientBanner({ patientId: 'p2', prefetch: {} }, '2024-06-12')).toBe('Patient/p2');
  });
});
