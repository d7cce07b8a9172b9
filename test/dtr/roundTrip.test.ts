/**
 * The documentation loop a DTR client runs knowing only the CDS Hooks response: order-sign says
 * documentation missing -> `$questionnaire-package` with the coverage-assertion-id -> the form
 * pre-populated as a DTR client does it (the package's draft answers, then each item's CQL
 * `initialExpression` run from the package's own ELM Library with cql-execution and cql-exec-fhir over
 * the same FHIR record) -> the shortest-path items the record leaves open answered -> the completed
 * response in the next order-sign -> covered. Every documentation-missing case of every criteria
 * policy version.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Extension, Library, Questionnaire, QuestionnaireItem, QuestionnaireResponse, QuestionnaireResponseItem, Resource, ServiceRequest } from 'fhir/r4.js';
import cql from 'cql-execution';
import cqlfhir from 'cql-exec-fhir';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dateOfService } from '../../src/decision/decideOrder.js';
import { DATE_OF_SERVICE } from '../../src/dtr/factLibrary.js';
import { NEEDED_GROUP } from '../../src/dtr/form.js';
import type { CdsResponse } from '../../src/hooks/types.js';
import { observedDecision } from '../support/outcome.js';
import { coverageOf, dtrApp, loadFixture, packageRequest, type HookBody } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const VERSIONS = ['kp-wa-lumbar-mri/2024-01-01', 'kp-wa-lumbar-mri/until-2024-01-01', 'medicare-advantage-lumbar-mri/1.1'];

interface Case {
  readonly fixture: string;
  readonly outcome: string;
  readonly criterion?: string;
}

const cases = VERSIONS.flatMap((v) =>
  (JSON.parse(readFileSync(join(ROOT, 'cds-services', v, 'cases.json'), 'utf8')) as Case[])
    .filter((c) => c.outcome === 'documentation-missing')
    .map((c) => ({ ...c, version: v })),
);

const INITIAL_EXPRESSION = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression';
// Loading the FHIR model info takes seconds: one patient source, and one engine library per ELM text.
const source = cqlfhir.PatientSource.FHIRv401();
const engines = new Map<string, InstanceType<typeof cql.Library>>();

/** The record a DTR client reads from the EHR: every prefetched resource, the Patient first. */
function recordOf(body: HookBody): Resource[] {
  const all = Object.values(body.prefetch).flatMap((b): Resource[] => (b?.resourceType === 'Bundle' ? (b.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])) : b ? [b] : []));
  return [...all.filter((r) => r.resourceType === 'Patient'), ...all.filter((r) => r.resourceType !== 'Patient')];
}

/** Runs the package's ELM Library over the record, as of the date of service. */
async function runLibrary(library: Library, body: HookBody, dos: string): Promise<Record<string, unknown>> {
  const elm = library.content?.find((c) => c.contentType === 'application/elm+json')?.data;
  if (!elm) throw new Error('the package Library has no ELM');
  const text = Buffer.from(elm, 'base64').toString('utf8');
  const engine = engines.get(text) ?? new cql.Library(JSON.parse(text));
  engines.set(text, engine);
  const executor = new cql.Executor(engine, undefined, { [DATE_OF_SERVICE]: cql.DateTime.parse(dos)?.getDate() });
  source.reset();
  source.loadBundles([{ resourceType: 'Bundle', type: 'collection', entry: recordOf(body).map((resource) => ({ resource })) }]);
  const results = await executor.exec(source);
  return results.patientResults[body.context.patientId] ?? {};
}

/** `"Library"."Definition"` of an item's CQL initialExpression. */
function definitionOf(item: QuestionnaireItem): string | undefined {
  const e = item.extension?.find((x) => x.url === INITIAL_EXPRESSION)?.valueExpression;
  return e?.language === 'text/cql-identifier' ? /^"[^"]+"\."([^"]+)"$/.exec(e.expression ?? '')?.[1] : undefined;
}

interface Filled {
  readonly response: QuestionnaireResponse;
  /** Items answered from the draft (auto-server), from the CQL (auto-client), by the clinician (manual). */
  readonly bySource: Record<'auto-server' | 'auto-client' | 'manual', string[]>;
}

/**
 * The form as a DTR client completes it: each boolean item takes the draft's answer, else its CQL
 * value when the record decides it (true or false); then the clinician answers yes to each
 * shortest-path item the record left open or said no to.
 */
function fill(q: Questionnaire, draft: QuestionnaireResponse, cqlValues: Record<string, unknown>, authored: string | undefined): Filled {
  const drafted = new Map<string, boolean>();
  const walkDraft = (items: readonly QuestionnaireResponseItem[] | undefined): void => {
    for (const i of items ?? []) {
      if (typeof i.answer?.[0]?.valueBoolean === 'boolean') drafted.set(i.linkId, i.answer[0].valueBoolean);
      walkDraft(i.item);
    }
  };
  walkDraft(draft.item);
  const needed = new Set(((q.item ?? []).find((g) => g.linkId === NEEDED_GROUP)?.item ?? []).map((i) => i.linkId));
  const bySource: Filled['bySource'] = { 'auto-server': [], 'auto-client': [], manual: [] };
  const origin = (source: keyof Filled['bySource']): Extension => ({ url: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin', extension: [{ url: 'source', valueCode: source }] });
  const answer = (items: readonly QuestionnaireItem[] | undefined): QuestionnaireResponseItem[] =>
    (items ?? []).flatMap((i): QuestionnaireResponseItem[] => {
      if (i.type === 'group') {
        const inner = answer(i.item);
        return inner.length ? [{ linkId: i.linkId, item: inner }] : [];
      }
      const definition = definitionOf(i);
      const fromCql = definition ? cqlValues[definition] : undefined;
      let value: boolean | undefined = drafted.get(i.linkId);
      let source: keyof Filled['bySource'] = 'auto-server';
      if (value === undefined && typeof fromCql === 'boolean') [value, source] = [fromCql, 'auto-client'];
      if (needed.has(i.linkId) && value !== true) [value, source] = [true, 'manual'];
      if (value === undefined) return [];
      bySource[source].push(i.linkId);
      return [{ linkId: i.linkId, text: i.text, answer: [{ valueBoolean: value, extension: [origin(source)] }] }];
    });
  return { response: { ...draft, id: 'qr-dtr-roundtrip', status: 'completed', authored: authored ?? draft.authored, item: answer(q.item) }, bySource };
}

/** Per policy version: how many items each source answered over its cases (for docs/dtr.md). */
const tally = new Map<string, Record<keyof Filled['bySource'], number>>();

describe('DTR round trip per policy and section', () => {
  let dtr: Awaited<ReturnType<typeof dtrApp>>;
  beforeAll(async () => {
    dtr = await dtrApp();
  }, 120_000);
  afterAll(async () => {
    await dtr.records.close();
  });

  it('has documentation-missing cases for every criteria policy version', () => {
    for (const v of VERSIONS) expect(cases.filter((c) => c.version === v).length, v).toBeGreaterThan(0);
  });

  it.each(cases.map((c) => [c.fixture, c] as const))('%s', async (_name, c) => {
    const body = loadFixture(c.fixture);
    const first = await request(dtr.app).post('/cds-services/lumbar-mri-order-sign').send(body);
    const seen = observedDecision(first.body as CdsResponse);
    expect(seen.outcome).toBe('documentation-missing');
    const id = seen.extension?.extension?.find((e: Extension) => e.url === 'coverage-assertion-id')?.valueString;
    const pkg = await request(dtr.app).post('/fhir/Questionnaire/$questionnaire-package').send(packageRequest(coverageOf(body), id));
    expect(pkg.status).toBe(200);
    const bundle = pkg.body.parameter[0].resource as Bundle;
    const q = bundle.entry![0].resource as Questionnaire;
    const library = bundle.entry!.find((e) => e.resource?.resourceType === 'Library')!.resource as Library;
    const draft = bundle.entry!.at(-1)!.resource as QuestionnaireResponse;
    // The clinician completes the form when signing the order (the fixtures are dated in the past).
    const order = body.context.draftOrders.entry?.find((e) => e.resource?.resourceType === 'ServiceRequest')?.resource as ServiceRequest;
    const cqlValues = await runLibrary(library, body, dateOfService(order, '2026-01-01'));
    const { response: answers, bySource } = fill(q, draft, cqlValues, order.authoredOn);
    const counts = tally.get(c.version) ?? { 'auto-server': 0, 'auto-client': 0, manual: 0 };
    for (const k of Object.keys(counts) as (keyof typeof counts)[]) counts[k] += bySource[k].length;
    tally.set(c.version, counts);
    const again = loadFixture(c.fixture);
    again.prefetch.questionnaireResponses = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: answers }] };
    const second = await request(dtr.app).post('/cds-services/lumbar-mri-order-sign').send(again);
    expect(second.status).toBe(200);
    const needed = (q.item ?? []).some((g) => g.linkId === NEEDED_GROUP);
    // A path that lacks a coded datum (the onset date of the episode) has no form item: the card asks
    // for it to be recorded in the chart, and answering the form cannot pretend to complete it.
    // A path that also lacks the episode's onset date (degenerative diagnoses date the disease, not the
    // pain) stays open after the form: the card asks for the onset to be recorded in the chart.
    const asksOnset = /Date of onset/i.test(JSON.stringify(first.body.cards));
    expect(observedDecision(second.body as CdsResponse).outcome).toBe(needed && !asksOnset ? 'criteria-met' : 'documentation-missing');
    if (!needed || asksOnset) expect(JSON.stringify(second.body.cards)).toMatch(/onset/i);
  }, 60_000);

  it('pre-populated items from the record with the Library for every policy version', () => {
    // Printed for docs/dtr.md: answers by source per policy version.
    console.info(JSON.stringify(Object.fromEntries(tally)));
    for (const v of VERSIONS) expect(tally.get(v)?.['auto-client'] ?? 0, v).toBeGreaterThan(0);
  });
});
