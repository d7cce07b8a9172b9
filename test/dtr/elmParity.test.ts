import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Resource, ServiceRequest } from 'fhir/r4.js';
import cql from 'cql-execution';
import cqlfhir from 'cql-exec-fhir';
import { describe, expect, it } from 'vitest';
import { dateOfService } from '../../src/decision/decideOrder.js';
import { factLibrary, DATE_OF_SERVICE } from '../../src/dtr/factLibrary.js';
import { FactContext } from '../../src/facts/FactContext.js';
import { loadLibrary } from '../../src/library/library.js';
import { PatientRecord } from '../../src/record/PatientRecord.js';

/**
 * The generated ELM, run by the reference CQL engine over each fixture's record, gives every fact it
 * covers the same value as the service's own fact evaluation (FactContext without questionnaire
 * answers: the form's answers are what the pre-population feeds, not what it reads).
 */
const ROOT = join(import.meta.dirname, '..', '..');
const FOLDERS = ['kp-wa-lumbar-mri', 'medicare-advantage-lumbar-mri'];
const library = loadLibrary();
const lib = factLibrary(library.facts);
// Loading the FHIR model info takes seconds: one engine library and one patient source for the file.
const engineLibrary = new cql.Library(lib.elm);
const source = cqlfhir.PatientSource.FHIRv401();

interface Fixture {
  readonly name: string;
  readonly patientId: string;
  readonly resources: Resource[];
  readonly order: ServiceRequest;
}

function fixtures(): Fixture[] {
  return FOLDERS.flatMap((folder) =>
    readdirSync(join(ROOT, 'cds-services', folder, 'fixtures'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => {
        const body = JSON.parse(readFileSync(join(ROOT, 'cds-services', folder, 'fixtures', f), 'utf8'));
        const resources: Resource[] = [];
        for (const v of Object.values(body.prefetch ?? {}) as (Resource | Bundle | null)[]) {
          if (!v) continue;
          if (v.resourceType === 'Bundle') resources.push(...((v as Bundle).entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])));
          else resources.push(v);
        }
        const order = body.context.draftOrders.entry.find((e: { resource: Resource }) => e.resource.resourceType === 'ServiceRequest').resource;
        return { name: `${folder}/${f}`, patientId: body.context.patientId, resources, order };
      }),
  );
}

async function runElm(fx: Fixture, dos: string): Promise<Record<string, unknown>> {
  const executor = new cql.Executor(engineLibrary, undefined, { [DATE_OF_SERVICE]: cql.DateTime.parse(dos)?.getDate() });
  source.reset();
  // The engine keys a patient by its Patient resource: put it first, as an EHR's $everything does.
  const patient = fx.resources.filter((r) => r.resourceType === 'Patient' && r.id === fx.patientId);
  const others = fx.resources.filter((r) => !(r.resourceType === 'Patient' && r.id === fx.patientId) && r.resourceType !== 'Patient');
  source.loadBundles([{ resourceType: 'Bundle', type: 'collection', entry: [...patient, ...others].map((resource) => ({ resource })) }]);
  const results = await executor.exec(source);
  return results.patientResults[fx.patientId] ?? {};
}

describe('the generated fact library (ELM) agrees with FactContext on every fixture', () => {
  const all = fixtures();

  it('covers most coded facts and says why it does not cover the rest', () => {
    expect(lib.covered.size).toBeGreaterThan(50);
    for (const [id, why] of lib.uncovered) expect(why.length, id).toBeGreaterThan(20);
    expect(all.length).toBeGreaterThan(100);
  });

  it.each(fixtures().map((f) => [f.name, f] as const))('%s', async (_name, fx) => {
    const dos = dateOfService(fx.order, '2026-01-01');
    const record = new PatientRecord(fx.patientId, fx.resources, library.valueSets);
    // The Library reads the EHR record only: the draft order's own reason (which FactContext also reads) is left out on both sides.
    const { reasonCode: _code, reasonReference: _reference, ...recordOnlyOrder } = fx.order;
    const facts = new FactContext(library.facts, record, recordOnlyOrder, dos, []);
    const elm = await runElm(fx, dos);
    const mismatches: string[] = [];
    for (const id of lib.covered) {
      const expected = facts.fact(id).value;
      const got = elm[id] ?? null;
      if (got !== expected) mismatches.push(`${id}: FactContext ${String(expected)}, ELM ${String(got)}`);
    }
    expect(mismatches).toEqual([]);
  });
});
