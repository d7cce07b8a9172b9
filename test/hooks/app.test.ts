import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperationOutcome } from 'fhir/r4.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { MemoryFeedbackSink } from '../../src/pipeline/events.js';
import { testConfig } from '../../src/config/config.js';
import { observedDecision } from '../support/outcome.js';
import { fixturePath } from '../helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');
const fixture = (path: string) => JSON.parse(readFileSync(fixturePath(path), 'utf8')) as Record<string, any>;
const CAUDA = 'kp-wa-lumbar-mri/I.B-cauda-equina-saddle-numbness-urinary-retention.json';
const ACUTE = 'kp-wa-lumbar-mri/NI-uncomplicated-acute-low-back-pain.json';
const SIGN = '/cds-services/lumbar-mri-order-sign';
const SELECT = '/cds-services/lumbar-mri-order-select';

function asSelect(body: Record<string, any>): Record<string, any> {
  const order = body.context.draftOrders.entry[0].resource;
  return { ...body, hook: 'order-select', context: { ...body.context, selections: [`ServiceRequest/${order.id}`] } };
}

describe('discovery', () => {
  const { app } = createApp(testConfig());
  it('lists the two services with prefetch for every resource type the criteria read', async () => {
    const res = await request(app).get('/cds-services');
    expect(res.status).toBe(200);
    const ids = res.body.services.map((s: { id: string; hook: string }) => `${s.hook}:${s.id}`);
    expect(ids).toEqual(['order-select:lumbar-mri-order-select', 'order-sign:lumbar-mri-order-sign']);
    for (const s of res.body.services) {
      expect(typeof s.description).toBe('string');
      const templates = Object.values(s.prefetch as Record<string, string>).join(' ');
      for (const type of ['Patient/', 'Coverage?', 'Condition?', 'Observation?', 'Procedure?', 'MedicationRequest?', 'ServiceRequest?', 'DiagnosticReport?', 'QuestionnaireResponse?', 'PractitionerRole?']) {
        expect(templates).toContain(type);
      }
      const options = s.extension['davinci-crd.configuration-options'] as { code: string; default: unknown }[];
      expect(options.map((o) => o.code)).toEqual(expect.arrayContaining(['coverage-info', 'max-cards']));
      expect(options.every((o) => o.default !== undefined)).toBe(true);
    }
  });

  it('answers CORS preflights from browser clients such as the CDS Hooks sandbox', async () => {
    const res = await request(app)
      .options(SIGN)
      .set('Origin', 'https://sandbox.cds-hooks.org')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-headers']).toMatch(/authorization/);
    expect(res.headers['access-control-allow-headers']).toMatch(/content-type/);
  });

  it('reports health with the policies loaded', async () => {
    const res = await request(app).get('/health');
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).toContain('kp-wa-lumbar-mri');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('publishes the documentation-finding code system with the contract codes', async () => {
    const res = await request(app).get('/fhir/CodeSystem/documentation-finding');
    expect(res.status).toBe(200);
    expect(res.body.url).toBe('http://lumbar-mri-cds.org/fhir/CodeSystem/documentation-finding');
    const codes = res.body.concept.map((c: { code: string }) => c.code);
    for (const code of ['progressive-neurologic-deficit', 'saddle-anesthesia', 'plain-films-nondiagnostic', 'mri-changes-biologic-therapy']) expect(codes).toContain(code);
  });
});

describe('order-sign', () => {
  const { app } = createApp(testConfig());

  it('approves suspected cauda equina (KP I.B) with the evidence and CRD coverage information', async () => {
    const body = fixture(CAUDA);
    const res = await request(app).post(SIGN).send(body);
    expect(res.status).toBe(200);
    const seen = observedDecision(res.body);
    expect(seen).toMatchObject({ outcome: 'criteria-met', criterion: 'I.B', coverage: expect.stringMatching(/^Coverage\//) });
    const action = res.body.systemActions[0];
    expect(action.type).toBe('update');
    expect(action.description).toBeTruthy();
    // The draft order is echoed in full, with the extension added.
    const order = body.context.draftOrders.entry[0].resource;
    expect(action.resource).toMatchObject({ ...order, extension: [expect.any(Object)] });
    const ext = Object.fromEntries(seen.extension!.extension!.map((e) => [e.url, e]));
    expect(ext['satisfied-pa-id']?.valueString).toBeTruthy();
    expect(ext.billingCode?.valueCoding).toEqual({ system: 'http://www.ama-assn.org/go/cpt', code: '72148' });
    expect(ext['coverage-assertion-id']?.valueString).toBeTruthy();
    const card = res.body.cards[0];
    expect(card.indicator).toBe('info');
    expect(card.summary.length).toBeLessThan(140);
    expect(card.source.topic).toMatchObject({ system: 'http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp', code: 'coverage-info' });
    expect(card.detail).toContain('I.B');
    // Evidence names the saddle-anesthesia finding and the urinary retention Condition.
    const retention = body.prefetch.conditions.entry.find((e: any) => e.resource.code.coding[0].code === 'R33.9').resource.id;
    expect(card.detail).toContain(`Condition/${retention}`);
    // ... in words a clinician reads: what it is, its code and date.
    expect(card.detail).toMatch(/Retention of urine, unspecified \(ICD-10-CM R33\.9\), \d{4}-\d{2}-\d{2}: Condition\//);
    expect(card.detail).toContain("The order's reason: Low back pain");
  });

  it('says uncomplicated acute low back pain is not indicated and offers physical therapy instead', async () => {
    const body = fixture(ACUTE);
    const res = await request(app).post(SIGN).send(body);
    expect(res.status).toBe(200);
    expect(observedDecision(res.body)).toMatchObject({ outcome: 'not-indicated', criterion: 'NI' });
    const card = res.body.cards[0];
    expect(card.indicator).toBe('warning');
    expect(card.selectionBehavior).toBe('at-most-one');
    const suggestion = card.suggestions[0];
    expect(suggestion.uuid).toBeTruthy();
    const order = body.context.draftOrders.entry[0].resource;
    expect(suggestion.actions).toEqual([
      expect.objectContaining({ type: 'delete', resourceId: `ServiceRequest/${order.id}`, description: expect.any(String) }),
      expect.objectContaining({ type: 'create', resource: expect.objectContaining({ resourceType: 'ServiceRequest' }), description: expect.any(String) }),
    ]);
    // What would change the answer: the red flags, in clinical words.
    expect(card.detail).toMatch(/saddle/i);
  });

  it('gives each of several lumbar MRI orders its own decision and leaves other orders alone', async () => {
    const body = fixture(CAUDA);
    const order = body.context.draftOrders.entry[0].resource;
    const second = { ...order, id: `${order.id}-2`, code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '72158' }] } };
    const other = { ...order, id: 'chest-xray', code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '71046' }] } };
    body.context.draftOrders.entry.push({ resource: second }, { resource: other });
    const res = await request(app).post(SIGN).send(body);
    expect(res.status).toBe(200);
    expect(res.body.systemActions.map((a: any) => a.resource.id)).toEqual([order.id, second.id]);
    expect(observedDecision(res.body, `ServiceRequest/${second.id}`).outcome).toBe('criteria-met');
    // I.B names MRI without contrast: the with-contrast order is offered 72148 instead.
    const labels = res.body.cards.flatMap((c: any) => c.suggestions ?? []).map((s: any) => s.label).join('|');
    expect(labels).toContain('72148');
  });

  it('honours davinci-crd.configuration: coverage-info off and max-cards', async () => {
    const body = { ...fixture(ACUTE), extension: { 'davinci-crd.configuration': { 'coverage-info': false, 'max-cards': 0, 'alt-drug': true } } };
    const res = await request(app).post(SIGN).send(body);
    expect(res.status).toBe(200);
    expect(res.body.systemActions).toEqual([]);
    expect(res.body.cards).toEqual([]);
  });
});

describe('order-select', () => {
  const { app } = createApp(testConfig());

  it('evaluates only the selected orders, answers in cards, and asks for no documentation in a system action', async () => {
    const body = asSelect(fixture(CAUDA));
    const order = body.context.draftOrders.entry[0].resource;
    body.context.draftOrders.entry.push({ resource: { ...order, id: 'not-selected' } });
    const res = await request(app).post(SELECT).send(body);
    expect(res.status).toBe(200);
    expect(res.body.systemActions).toBeUndefined();
    expect(res.body.cards[0].summary).toMatch(/Criteria met/);
    expect(JSON.stringify(res.body.cards)).not.toContain('ServiceRequest/not-selected');
  });

  it('accepts what the CDS Hooks sandbox sends: a Bundle without type, coding [{}], no authoredOn or fhirAuthorization', async () => {
    const res = await request(app)
      .post(SELECT)
      .send({
        hookInstance: 'a32723a2-6194-47e1-8f37-e9d444d2a49b',
        hook: 'order-select',
        fhirServer: 'http://127.0.0.1:9/fhir',
        context: {
          patientId: 'pat-lbp-1',
          userId: 'Practitioner/COREPRACTITIONER1',
          selections: ['ServiceRequest/example-request-id'],
          draftOrders: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'ServiceRequest', id: 'example-request-id', status: 'draft', intent: 'plan', code: { coding: [{}] }, subject: { reference: 'Patient/pat-lbp-1' } } }] },
        },
        prefetch: { patient: { resourceType: 'Patient', id: 'pat-lbp-1' } },
      });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ cards: [] });
  });
});

describe('client errors get a 4xx OperationOutcome naming the field, never a 5xx', () => {
  const { app } = createApp(testConfig({ bodyLimit: '50kb' }));
  const valid = () => fixture(CAUDA);

  it.each([
    ['hook', (b: any) => ({ ...b, hook: 'order-select' })],
    ['hookInstance', (b: any) => ({ ...b, hookInstance: undefined })],
    ['context.userId', (b: any) => ({ ...b, context: { ...b.context, userId: undefined } })],
    ['context.patientId', (b: any) => ({ ...b, context: { ...b.context, patientId: 42 } })],
    ['context.draftOrders', (b: any) => ({ ...b, context: { ...b.context, draftOrders: [] } })],
    ['context.draftOrders.resourceType', (b: any) => ({ ...b, context: { ...b.context, draftOrders: { resourceType: 'Patient' } } })],
    ['prefetch.patient', (b: any) => ({ ...b, prefetch: { ...b.prefetch, patient: 'Patient/123' } })],
    ['fhirServer', (b: any) => ({ ...b, fhirAuthorization: { access_token: 'x', token_type: 'Bearer' } })],
    ['fhirServer', (b: any) => ({ ...b, fhirServer: 'ftp://ehr.example.org' })],
  ])('400 for a bad %s', async (field, mutate) => {
    const res = await request(app).post(SIGN).send(mutate(valid()));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject<Partial<OperationOutcome>>({ resourceType: 'OperationOutcome' });
    expect(res.body.issue[0].expression).toEqual([field]);
  });

  it('400 when order-select has no selections', async () => {
    const b = valid();
    const res = await request(app).post(SELECT).send({ ...b, hook: 'order-select' });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['context.selections']);
  });

  it('404 for an unknown service', async () => {
    const res = await request(app).post('/cds-services/no-such-service').send(valid());
    expect(res.status).toBe(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });

  it('415 for a body that is not JSON', async () => {
    const res = await request(app).post(SIGN).set('Content-Type', 'text/plain').send('hello');
    expect(res.status).toBe(415);
  });

  it('400 for malformed JSON', async () => {
    const res = await request(app).post(SIGN).set('Content-Type', 'application/json').send('{"hook": ');
    expect(res.status).toBe(400);
    expect(res.body.issue[0].diagnostics).toMatch(/JSON/);
  });

  it('413 for a body over the configured limit', async () => {
    const b = valid();
    b.padding = 'x'.repeat(60_000);
    const res = await request(app).post(SIGN).send(b);
    expect(res.status).toBe(413);
  });

  it('400 for a JSON body that is not an object', async () => {
    const res = await request(app).post(SIGN).send([1, 2, 3]);
    expect(res.status).toBe(400);
  });
});

describe('feedback', () => {
  const sink = new MemoryFeedbackSink();
  const { app } = createApp(testConfig(), { feedback: sink });

  it('keeps valid feedback', async () => {
    const res = await request(app)
      .post(`${SIGN}/feedback`)
      .send({ feedback: [{ card: 'card-1', outcome: 'accepted', acceptedSuggestions: [{ id: 'sug-1' }], outcomeTimestamp: '2024-06-12T10:05:31Z' }] });
    expect(res.status).toBe(200);
    expect(sink.items).toEqual([expect.objectContaining({ serviceId: 'lumbar-mri-order-sign', feedback: expect.objectContaining({ card: 'card-1' }) })]);
  });

  it.each([
    [{}],
    [{ feedback: [] }],
    [{ feedback: [{ card: 'c', outcome: 'maybe', outcomeTimestamp: '2024-06-12T10:05:31Z' }] }],
    [{ feedback: [{ card: 'c', outcome: 'accepted', outcomeTimestamp: '2024-06-12T10:05:31Z' }] }],
    [{ feedback: [{ card: 'c', outcome: 'overridden', outcomeTimestamp: 'yesterday' }] }],
  ])('rejects invalid feedback %j with 400 and stores nothing', async (body) => {
    const before = sink.items.length;
    const res = await request(app).post(`${SIGN}/feedback`).send(body);
    expect(res.status).toBe(400);
    expect(sink.items.length).toBe(before);
  });
});
