/**
 * `Questionnaire/$questionnaire-package` as a DTR client calls it: with the coverage-assertion-id of a
 * CRD response as `context`, checked against the DTR payer requirements (bundle shape and order,
 * parameter names by version, Libraries with CQL and ELM, pre-expanded ValueSets, one draft
 * QuestionnaireResponse, 4xx on what cannot be answered).
 */
import type { Bundle, Extension, Library, Observation, Parameters, Questionnaire, QuestionnaireItem, QuestionnaireResponse, QuestionnaireResponseItem, ValueSet } from 'fhir/r4.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEEDED_GROUP } from '../../src/dtr/form.js';
import type { CdsResponse } from '../../src/hooks/types.js';
import { coverageOf, dtrApp, loadFixture, packageRequest } from './helpers.js';
import { observedDecision } from '../support/outcome.js';

const DTR = 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition';
const INITIAL = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression';
/** KP WA 2024: urinary retention coded, saddle sensation not documented either way (I.B.2 shortest path). */
const SADDLE = 'kp-wa-lumbar-mri/I.B.2-urinary-retention-saddle-sensation-undocumented-missing-doc.json';
const MET = 'kp-wa-lumbar-mri/I.B-cauda-equina-saddle-numbness-urinary-retention.json';

const ext = (e: { extension?: Extension[] } | undefined, url: string) => e?.extension?.find((x) => x.url === url);
const items = (list: readonly QuestionnaireItem[] | undefined): QuestionnaireItem[] => (list ?? []).flatMap((i) => [i, ...items(i.item)]);
const responseItems = (list: readonly QuestionnaireResponseItem[] | undefined): QuestionnaireResponseItem[] => (list ?? []).flatMap((i) => [i, ...responseItems(i.item)]);
const decode = (data: string | undefined) => Buffer.from(data ?? '', 'base64').toString('utf8');

describe('$questionnaire-package', () => {
  let dtr: Awaited<ReturnType<typeof dtrApp>>;
  /** Signs a fixture, waits for its decision record, and returns the CRD answer. */
  const sign = async (name: string, body = loadFixture(name)) => {
    const res = await request(dtr.app).post('/cds-services/lumbar-mri-order-sign').send(body);
    expect(res.status).toBe(200);
    const seen = observedDecision(res.body as CdsResponse);
    const id = ext(seen.extension, 'coverage-assertion-id')?.valueString ?? '';
    return { seen, id, body, response: res.body as CdsResponse };
  };
  const post = (params: unknown) => request(dtr.app).post('/fhir/Questionnaire/$questionnaire-package').set('content-type', 'application/fhir+json').send(JSON.stringify(params));

  beforeAll(async () => {
    dtr = await dtrApp();
  }, 120_000);
  afterAll(async () => {
    await dtr.records.close();
  });

  it('answers a documentation-missing assertion with one package: Questionnaire first, Library, ValueSets, one draft response (DTR 2.2 by default)', async () => {
    const { seen, id, body } = await sign(SADDLE);
    expect(seen.outcome).toBe('documentation-missing');
    const res = await post(packageRequest(coverageOf(body), id));
    expect(res.status).toBe(200);
    const out = res.body as Parameters;
    expect(out.resourceType).toBe('Parameters');
    const bundles = (out.parameter ?? []).filter((p) => p.name === 'packagebundle');
    expect(bundles).toHaveLength(1);
    const bundle = bundles[0].resource as Bundle;
    expect(bundle.type).toBe('collection');
    const types = (bundle.entry ?? []).map((e) => e.resource?.resourceType);
    expect(types[0]).toBe('Questionnaire');
    expect(types[1]).toBe('Library');
    expect(types.filter((t) => t === 'QuestionnaireResponse')).toHaveLength(1);
    expect(types.filter((t) => t === 'ValueSet').length).toBeGreaterThan(10);

    const q = bundle.entry![0].resource as Questionnaire;
    expect(q.url).toBe(seen.questionnaire);
    expect(q.subjectType).toEqual(['Patient']);
    expect(q.effectivePeriod?.start).toBe('2024-01-01');
    expect(q.meta?.profile?.[0]).toContain('davinci-dtr');
    expect(items(q.item).every((i) => typeof i.text === 'string' && i.text.length > 0)).toBe(true);
    // Version-specific reference to the Library in the same bundle.
    const lib = bundle.entry![1].resource as Library;
    expect(ext(q, 'http://hl7.org/fhir/StructureDefinition/cqf-library')?.valueCanonical).toBe(`${lib.url}|${lib.version}`);
  });

  it('ships the Library as CQL text and ELM JSON, and every boolean item names one of its definitions', async () => {
    const { id, body } = await sign(SADDLE);
    const bundle = (await post(packageRequest(coverageOf(body), id))).body.parameter[0].resource as Bundle;
    const q = bundle.entry![0].resource as Questionnaire;
    const lib = bundle.entry![1].resource as Library;
    const cql = decode(lib.content?.find((c) => c.contentType === 'text/cql')?.data);
    const elm = JSON.parse(decode(lib.content?.find((c) => c.contentType === 'application/elm+json')?.data));
    expect(cql).toMatch(/^library LumbarMriFacts version '1\.0\.0'/);
    const defined = new Set<string>(elm.library.statements.def.map((d: { name: string }) => d.name));
    const questions = items(q.item).filter((i) => i.type === 'boolean');
    expect(questions.length).toBeGreaterThan(5);
    for (const i of questions) {
      const expression = ext(i, INITIAL)?.valueExpression;
      expect(expression?.language, i.linkId).toBe('text/cql-identifier');
      const definition = /^"LumbarMriFacts"\."(.+)"$/.exec(expression?.expression ?? '')?.[1] ?? '';
      expect(defined.has(definition), `${i.linkId} -> ${definition}`).toBe(true);
      expect(cql).toContain(`define "${definition}":`);
    }
  });

  it('pre-expands the value sets under 40 codes and leaves the hierarchical ones defined', async () => {
    const { id, body } = await sign(SADDLE);
    const bundle = (await post(packageRequest(coverageOf(body), id))).body.parameter[0].resource as Bundle;
    const valueSets = (bundle.entry ?? []).map((e) => e.resource).filter((r): r is ValueSet => r?.resourceType === 'ValueSet');
    for (const vs of valueSets) {
      const include = vs.compose?.include ?? [];
      const codes = include.reduce((n, i) => n + (i.concept?.length ?? 0), 0);
      const hierarchical = include.some((i) => i.filter?.length);
      if (!hierarchical && codes < 40) expect(vs.expansion?.total, vs.id).toBe(codes);
      else expect(vs.expansion, vs.id).toBeUndefined();
    }
    expect(valueSets.some((vs) => vs.expansion)).toBe(true);
  });

  it('puts the shortest path first and the other criteria behind enableWhen', async () => {
    const { id, body, response } = await sign(SADDLE);
    const bundle = (await post(packageRequest(coverageOf(body), id))).body.parameter[0].resource as Bundle;
    const q = bundle.entry![0].resource as Questionnaire;
    const [needed, ...rest] = q.item ?? [];
    expect(needed.linkId).toBe(NEEDED_GROUP);
    expect(needed.item?.map((i) => i.linkId)).toEqual(['saddle-anesthesia']);
    // The documentation card asks for the same item, in its words.
    const card = response.cards.find((c) => c.summary.startsWith('Documentation needed'));
    expect(card?.detail).toContain(needed.item?.[0].text);
    expect(rest.length).toBeGreaterThan(0);
    for (const group of rest) {
      expect(group.enableBehavior).toBe('any');
      expect(group.enableWhen).toEqual([{ question: 'saddle-anesthesia', operator: '=', answerBoolean: false }]);
    }
  });

  it('drafts one in-progress response for the order and coverage of the assertion', async () => {
    const { id, body } = await sign(SADDLE);
    const bundle = (await post(packageRequest(coverageOf(body), id))).body.parameter[0].resource as Bundle;
    const q = bundle.entry![0].resource as Questionnaire;
    const qr = bundle.entry!.at(-1)!.resource as QuestionnaireResponse;
    expect(qr.resourceType).toBe('QuestionnaireResponse');
    expect(qr.status).toBe('in-progress');
    expect(qr.questionnaire).toBe(`${q.url}|${q.version}`);
    const order = body.context.draftOrders.entry![0].resource!;
    expect(ext(qr, `${DTR}/qr-context`)?.valueReference?.reference).toBe(`ServiceRequest/${order.id}`);
    expect(ext(qr, `${DTR}/qr-coverage`)?.valueReference?.reference).toBe(`Coverage/${coverageOf(body).id}`);
    expect(qr.subject?.reference).toBe(`Patient/${body.context.patientId}`);
  });

  /** The saddle fixture with a positive straight-leg raise documented on an earlier note (still documentation missing). */
  const withSlrNote = () => {
    const body = loadFixture(SADDLE);
    const note: Observation = {
      resourceType: 'Observation',
      id: 'obs-slr-note',
      status: 'final',
      code: { coding: [{ system: 'http://lumbar-mri-cds.org/fhir/CodeSystem/documentation-finding', code: 'straight-leg-raise-positive', display: 'Positive straight-leg raise' }] },
      subject: { reference: `Patient/${body.context.patientId}` },
      effectiveDateTime: '2024-03-01',
      valueBoolean: true,
    };
    const key = Object.entries(body.prefetch).find(([, b]) => b?.entry?.some((e) => e.resource?.resourceType === 'Observation'))?.[0] ?? 'observations';
    body.prefetch[key] = { resourceType: 'Bundle', type: 'searchset', entry: [...(body.prefetch[key]?.entry ?? []), { resource: note }] };
    return body;
  };
  const slrAnswer = async (id: string, body: ReturnType<typeof loadFixture>) => {
    const bundle = (await post(packageRequest(coverageOf(body), id))).body.parameter[0].resource as Bundle;
    const qr = bundle.entry!.at(-1)!.resource as QuestionnaireResponse;
    return responseItems(qr.item).find((i) => i.linkId === 'straight-leg-raise-positive')?.answer?.[0];
  };

  it('carries the findings the CRD call already read as auto-server answers', async () => {
    const { id, seen, body } = await sign(SADDLE, withSlrNote());
    expect(seen.outcome).toBe('documentation-missing');
    const answer = await slrAnswer(id, body);
    expect(answer?.valueBoolean).toBe(true);
    expect(ext(answer, `${DTR}/information-origin`)?.extension).toEqual([{ url: 'source', valueCode: 'auto-server' }]);
  });

  it('carries them too when order-sign reuses the decision order-select cached', async () => {
    const body = withSlrNote();
    const order = body.context.draftOrders.entry![0].resource!;
    const select = await request(dtr.app)
      .post('/cds-services/lumbar-mri-order-select')
      .send({ ...body, hook: 'order-select', hookInstance: 'a1b2c3d4-0000-4000-8000-00000000c0de', context: { ...body.context, selections: [`ServiceRequest/${order.id}`] } });
    expect(select.status).toBe(200);
    const { id, seen } = await sign(SADDLE, body);
    expect(seen.outcome).toBe('documentation-missing');
    expect((await slrAnswer(id, body))?.valueBoolean).toBe(true);
  });

  it('names the output parameter by DTR version: PackageBundle in 2.0.1 (asked on the input profile)', async () => {
    const { id, body } = await sign(SADDLE);
    const res = await post(packageRequest(coverageOf(body), id, [], 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-qpackage-input-parameters|2.0.1'));
    expect(res.status).toBe(200);
    expect(res.body.parameter.map((p: { name: string }) => p.name)).toContain('PackageBundle');
    expect(res.body.parameter.map((p: { name: string }) => p.name)).not.toContain('packagebundle');
  });

  it('says so when the assertion needs no documentation (criteria met)', async () => {
    const { id, seen, body } = await sign(MET);
    expect(seen.outcome).toBe('criteria-met');
    const res = await post(packageRequest(coverageOf(body), id));
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].diagnostics).toMatch(/No documentation is needed/);
  });

  it('answers 4xx with an OperationOutcome for an unknown context, a foreign coverage, no coverage, or a body that is not Parameters', async () => {
    const { id, body } = await sign(SADDLE);
    const coverage = coverageOf(body);
    const unknown = await post(packageRequest(coverage, 'a0000000-0000-4000-a000-000000000000'));
    expect(unknown.status).toBe(404);
    expect(unknown.body.resourceType).toBe('OperationOutcome');
    const foreign = await post(packageRequest({ ...coverage, id: 'someone-elses-coverage' }, id));
    expect(foreign.status).toBe(422);
    expect(foreign.body.issue[0].diagnostics).toMatch(/is not the coverage of assertion/);
    const noCoverage = await post({ resourceType: 'Parameters', parameter: [{ name: 'context', valueString: id }] });
    expect(noCoverage.status).toBe(400);
    const notParameters = await post({ resourceType: 'Bundle', type: 'collection' });
    expect(notParameters.status).toBe(400);
    const text = await request(dtr.app).post('/fhir/Questionnaire/$questionnaire-package').set('content-type', 'text/plain').send('coverage');
    expect(text.status).toBe(415);
  });

  it('serves a questionnaire asked for by canonical, and warns about one it does not know', async () => {
    const { seen, body } = await sign(SADDLE);
    const res = await post(packageRequest(coverageOf(body), undefined, [
      { name: 'questionnaire', valueCanonical: seen.questionnaire },
      { name: 'questionnaire', valueCanonical: 'http://example.org/fhir/Questionnaire/home-o2' },
    ]));
    expect(res.status).toBe(200);
    const bundles = res.body.parameter.filter((p: { name: string }) => p.name === 'packagebundle');
    expect(bundles).toHaveLength(1);
    const outcome = res.body.parameter.find((p: { name: string }) => p.name === 'outcome');
    expect(JSON.stringify(outcome.resource)).toContain('home-o2');
  });

  it('answers "nothing changed" for changedsince after the artifacts were loaded', async () => {
    const { id, body } = await sign(SADDLE);
    const res = await post(packageRequest(coverageOf(body), id, [{ name: 'changedsince', valueInstant: new Date(Date.now() + 60_000).toISOString() }]));
    expect(res.status).toBe(200);
    expect(res.body.parameter.filter((p: { name: string }) => p.name === 'packagebundle')).toHaveLength(0);
    const bad = await post(packageRequest(coverageOf(body), id, [{ name: 'changedsince', valueInstant: 'yesterday' }]));
    expect(bad.status).toBe(400);
  });
});
