/**
 * The other DTR payer endpoints and the CRD side of the loop: the SMART launch link on the
 * documentation card, `$log-questionnaire-errors`, `ValueSet/$expand`, the Library and `metadata`.
 */
import type { CapabilityStatement, Extension, Library, ValueSet } from 'fhir/r4.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CdsLink, CdsResponse } from '../../src/hooks/types.js';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { observedDecision } from '../support/outcome.js';
import { coverageOf, dtrApp, loadFixture } from './helpers.js';

/** Medicare Advantage: repeat imaging whose reason is not documented (IND.5). */
const REPEAT = 'medicare-advantage-lumbar-mri/IND.5-repeat-reason-undocumented.json';
const DTR_APP = 'https://dtr.example.org/launch';

describe('the documentation card launches a DTR app (SMART link)', () => {
  let withApp: Awaited<ReturnType<typeof dtrApp>>;
  const without = createApp(testConfig());
  beforeAll(async () => {
    withApp = await dtrApp({ dtrAppUrl: DTR_APP });
  }, 120_000);
  afterAll(async () => {
    await withApp.records.close();
  });

  it('carries appContext with the questionnaire, order, coverage and the coverage-assertion-id the package takes as context', async () => {
    const body = loadFixture(REPEAT);
    const res = await request(withApp.app).post('/cds-services/lumbar-mri-order-sign').send(body);
    const response = res.body as CdsResponse;
    const seen = observedDecision(response);
    expect(seen.outcome).toBe('documentation-missing');
    const card = response.cards.find((c) => c.links?.some((l) => l.type === 'smart'));
    const link = card?.links?.find((l) => l.type === 'smart') as CdsLink;
    expect(link.url).toBe(DTR_APP);
    const ctx = new URLSearchParams(link.appContext);
    const id = seen.extension?.extension?.find((e: Extension) => e.url === 'coverage-assertion-id')?.valueString;
    expect(ctx.get('coverage-assertion-id')).toBe(id);
    expect(ctx.get('questionnaire')).toBe(seen.questionnaire);
    expect(ctx.get('order')).toBe(`ServiceRequest/${body.context.draftOrders.entry?.[0].resource?.id}`);
    expect(ctx.get('coverage')).toBe(`Coverage/${coverageOf(body).id}`);
    // The CRD 2.0.1 shape is kept: doc-needed with the questionnaire canonical the package serves.
    const sub = (url: string) => seen.extension?.extension?.find((e: Extension) => e.url === url);
    expect(sub('doc-needed')?.valueCode).toBe('clinical');
    expect(sub('questionnaire')?.valueCanonical).toBe(seen.questionnaire);
    // The app's first call succeeds with what the link gave it.
    const pkg = await request(withApp.app)
      .post('/fhir/Questionnaire/$questionnaire-package')
      .send({ resourceType: 'Parameters', parameter: [{ name: 'coverage', resource: coverageOf(body) }, { name: 'context', valueString: ctx.get('coverage-assertion-id') }] });
    expect(pkg.status).toBe(200);
    expect(pkg.body.parameter[0].resource.entry[0].resource.url).toBe(ctx.get('questionnaire'));
  });

  it('is absent when no DTR app is configured, and never on order-select', async () => {
    const signed = await request(without.app).post('/cds-services/lumbar-mri-order-sign').send(loadFixture(REPEAT));
    expect(observedDecision(signed.body).outcome).toBe('documentation-missing');
    expect(JSON.stringify(signed.body.cards)).not.toContain('"smart"');
    const select = loadFixture(REPEAT) as unknown as { hook: string; context: Record<string, unknown> };
    select.hook = 'order-select';
    const order = loadFixture(REPEAT).context.draftOrders.entry?.[0].resource;
    select.context.selections = [`ServiceRequest/${order?.id}`];
    const selected = await request(withApp.app).post('/cds-services/lumbar-mri-order-select').send(select);
    expect(selected.status).toBe(200);
    expect(JSON.stringify(selected.body.cards)).not.toContain('"smart"');
  });
});

describe('the documentation card\'s own link opens the rendered form (the playground\'s form page)', () => {
  let dtr: Awaited<ReturnType<typeof dtrApp>>;
  beforeAll(async () => {
    dtr = await dtrApp();
  }, 120_000);
  afterAll(async () => {
    await dtr.records.close();
  });
  const formLink = (res: { body: CdsResponse }) => res.body.cards.flatMap((c) => c.links ?? []).find((l) => l.label === 'Documentation questionnaire');

  it('on order-sign: the page with the keys of the DTR appContext, whose package request succeeds', async () => {
    const body = loadFixture(REPEAT);
    const signed = await request(dtr.app).post('/cds-services/lumbar-mri-order-sign').send(body);
    const seen = observedDecision(signed.body as CdsResponse);
    const link = formLink(signed);
    expect(link?.type).toBe('absolute');
    const url = new URL(link?.url ?? '');
    expect(url.pathname).toBe('/playground/form.html');
    const id = seen.extension?.extension?.find((e: Extension) => e.url === 'coverage-assertion-id')?.valueString;
    expect(url.searchParams.get('coverage-assertion-id')).toBe(id);
    expect(url.searchParams.get('questionnaire')).toBe(seen.questionnaire);
    expect(url.searchParams.get('coverage')).toBe(`Coverage/${coverageOf(body).id}`);
    expect(url.searchParams.get('patient')).toBe(`Patient/${body.context.patientId}`);
    // The coverage information keeps the canonical (CRD): only the card's link changes.
    expect(seen.questionnaire).toMatch(/\/fhir\/Questionnaire\/medicare-advantage-lumbar-mri-1\.1$/);
    const page = await request(dtr.app).get(url.pathname);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<script type="module" src="form.js">');
    // What the page sends: the Coverage by its id, the assertion as context.
    const pkg = await request(dtr.app).post('/fhir/Questionnaire/$questionnaire-package').send({
      resourceType: 'Parameters',
      parameter: [{ name: 'coverage', resource: { resourceType: 'Coverage', id: coverageOf(body).id, beneficiary: { reference: url.searchParams.get('patient') } } }, { name: 'context', valueString: id }],
    });
    expect(pkg.status).toBe(200);
    expect(pkg.body.parameter[0].resource.entry[0].resource.item[0].linkId).toBe('documentation-needed');
  });

  it('on order-select (no kept assertion): the page for the questionnaire; without the playground: the Questionnaire itself', async () => {
    const select = loadFixture(REPEAT) as unknown as { hook: string; context: Record<string, unknown> };
    select.hook = 'order-select';
    select.context.selections = [`ServiceRequest/${loadFixture(REPEAT).context.draftOrders.entry?.[0].resource?.id}`];
    const selected = await request(dtr.app).post('/cds-services/lumbar-mri-order-select').send(select);
    const url = new URL(formLink(selected)?.url ?? '');
    expect(url.pathname).toBe('/playground/form.html');
    expect(url.searchParams.get('coverage-assertion-id')).toBeNull();
    expect(url.searchParams.get('questionnaire')).toMatch(/\/fhir\/Questionnaire\/medicare-advantage-lumbar-mri-1\.1$/);
    const bare = createApp(testConfig({ playground: false }));
    const signed = await request(bare.app).post('/cds-services/lumbar-mri-order-sign').send(loadFixture(REPEAT));
    expect(formLink(signed)?.url).toMatch(/\/fhir\/Questionnaire\/medicare-advantage-lumbar-mri-1\.1$/);
  });
});

describe('DTR payer endpoints', () => {
  let dtr: Awaited<ReturnType<typeof dtrApp>>;
  beforeAll(async () => {
    dtr = await dtrApp();
  }, 120_000);
  afterAll(async () => {
    await dtr.records.close();
  });

  it('$log-questionnaire-errors logs the issues and acknowledges them', async () => {
    const res = await request(dtr.app)
      .post('/fhir/Questionnaire/$log-questionnaire-errors')
      .set('content-type', 'application/fhir+json')
      .send(
        JSON.stringify({
          resourceType: 'Parameters',
          parameter: [
            { name: 'Questionnaire', valueCanonical: 'http://127.0.0.1:3000/fhir/Questionnaire/medicare-advantage-lumbar-mri-2025-10-02|2025-10-02' },
            { name: 'OperationOutcome', resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: 'CQL: could not resolve "LumbarMriFacts"."cancer-suspected"', expression: ['Questionnaire.item[0]'] }] } },
          ],
        }),
      );
    expect(res.status).toBe(200);
    expect(res.body.issue[0].diagnostics).toMatch(/Logged 1 issue/);
    const logged = dtr.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'DTR client reported questionnaire errors');
    expect(logged.issues[0]).toMatchObject({ severity: 'error', code: 'processing', expression: ['Questionnaire.item[0]'] });
    const missing = await request(dtr.app).post('/fhir/Questionnaire/$log-questionnaire-errors').send({ resourceType: 'Parameters', parameter: [] });
    expect(missing.status).toBe(400);
    expect(missing.body.resourceType).toBe('OperationOutcome');
  });

  // CPT codes are exact; ICD-10-CM sets match by hierarchy (a category covers its subcodes), so they are not expanded.
  it('ValueSet/$expand expands a value set the forms use, by url or id, and refuses a hierarchical one with 422', async () => {
    const byId = await request(dtr.app).get('/fhir/ValueSet/advanced-lumbar-imaging/$expand');
    expect(byId.status).toBe(200);
    const vs = byId.body as ValueSet;
    expect(vs.expansion?.total).toBe(vs.expansion?.contains?.length);
    expect(vs.expansion?.contains?.length).toBeGreaterThan(0);
    const byUrl = await request(dtr.app).get('/fhir/ValueSet/$expand').query({ url: vs.url });
    expect(byUrl.status).toBe(200);
    expect(byUrl.body.expansion.contains).toEqual(vs.expansion?.contains);
    const posted = await request(dtr.app).post('/fhir/ValueSet/$expand').send({ resourceType: 'Parameters', parameter: [{ name: 'url', valueUri: vs.url }] });
    expect(posted.status).toBe(200);
    const hierarchical = await request(dtr.app).get('/fhir/ValueSet/radiculopathy/$expand');
    expect(hierarchical.status).toBe(422);
    expect(hierarchical.body.issue[0].diagnostics).toMatch(/is-a/);
    const unknown = await request(dtr.app).get('/fhir/ValueSet/$expand').query({ url: 'http://example.org/ValueSet/x' });
    expect(unknown.status).toBe(404);
  });

  it('serves the Library and lists the operations in the CapabilityStatement', async () => {
    const lib = (await request(dtr.app).get('/fhir/Library/LumbarMriFacts')).body as Library;
    expect(lib.content?.map((c) => c.contentType).sort()).toEqual(['application/elm+json', 'text/cql']);
    const cs = (await request(dtr.app).get('/fhir/metadata')).body as CapabilityStatement;
    expect(cs.resourceType).toBe('CapabilityStatement');
    const ops = cs.rest?.[0].resource?.flatMap((r) => (r.operation ?? []).map((o) => `${r.type}/$${o.name}`));
    expect(ops).toEqual(expect.arrayContaining(['Questionnaire/$questionnaire-package', 'Questionnaire/$log-questionnaire-errors', 'ValueSet/$expand', 'Claim/$submit', 'Claim/$inquire']));
  });
});
