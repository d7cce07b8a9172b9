/**
 * The evaluation alone, in process: the request already parsed and validated; timed is what the
 * service does per request after that: index the record (PatientRecord), then per order routing,
 * facts and the criteria engine (decideOrder). `hook` adds the cards and the CRD system action
 * (runHook). One record per policy: KP (commercial) and Medicare Advantage.
 */
import type { Resource, ServiceRequest } from 'fhir/r4.js';
import { decideOrder, lumbarMriCode } from '../src/decision/decideOrder.js';
import { todayUtc } from '../src/fhir/dates.js';
import { runHook, type HookContext } from '../src/pipeline/runHook.js';
import { parseHookRequest } from '../src/hooks/schema.js';
import type { HookRequest } from '../src/hooks/types.js';
import { loadLibrary, type PolicyLibrary } from '../src/library/library.js';
import { loadRecord } from '../src/record/loadRecord.js';
import { buildScenario, type Scenario } from '../scripts/fixtures/scenario.js';
import { readFixture, withHistory, type HookRequestJson } from './generate-record.js';

export interface Timing {
  readonly medianUs: number;
  readonly p99Us: number;
  readonly iterations: number;
}

export interface EvaluationResult {
  readonly policy: string;
  readonly resources: number;
  readonly outcome: string;
  readonly decide: Timing;
  readonly hook: Timing;
}

/** A Medicare Advantage patient with the same picture as the KP base record. */
/** The MA policy is in force from 2025-10-02; the KP base record's date of service is 2024-06-12. */
const MA_SCENARIO: Scenario = {
  name: 'bench-ma-acute-low-back-pain',
  description: 'Medicare Advantage: acute low back pain after lifting, no red flags.',
  dateOfService: '2025-11-12',
  patient: { gender: 'male', age: 71 },
  coverage: [{ kind: 'medicare-advantage' }],
  order: { cpt: '72148', reason: [{ system: 'snomed', code: '279039007', display: 'Low back pain' }] },
  conditions: [{ system: 'icd10', code: 'M54.50', display: 'Low back pain, unspecified', onsetDaysAgo: 14 }],
  medications: [{ system: 'rxnorm', code: '310965', display: 'Ibuprofen 200 MG Oral Tablet', daysAgo: 13 }],
};

export function benchRequests(resources: number): { policy: string; request: HookRequestJson }[] {
  const ma = buildScenario(MA_SCENARIO).request as HookRequestJson;
  return [
    { policy: 'kp-wa-lumbar-mri', request: withHistory(readFixture(), resources) },
    { policy: 'medicare-advantage-lumbar-mri', request: withHistory(ma, resources) },
  ];
}

/** loadRecord resolves synchronously when everything is in the prefetch (no FHIR calls). */
async function decideAll(library: PolicyLibrary, req: HookRequest, today: string): Promise<string> {
  const loaded = await loadRecord(req, {
    valueSets: library.valueSets,
    fhirServerAllowed: () => false,
    fhirTimeoutMs: 1000,
    deadline: Date.now() + 1000,
    maxPages: 1,
    maxResources: 20_000,
  });
  let outcome = '';
  for (const [i, e] of (req.context.draftOrders.entry ?? []).entries()) {
    const order = e.resource as ServiceRequest;
    const cpt = lumbarMriCode(order);
    if (cpt) outcome = decideOrder(library, loaded.record, order, `ServiceRequest/${order.id ?? i}`, cpt, today).outcome;
  }
  return outcome;
}

/** Times async work that completes without I/O: each await is a microtask, not a wait. */
async function timeAsync(iterations: number, fn: () => Promise<unknown>): Promise<Timing> {
  for (let i = 0; i < Math.min(200, iterations); i++) await fn();
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  samples.sort();
  const at = (q: number) => Math.round(samples[Math.min(iterations - 1, Math.floor(q * iterations))] * 10) / 10;
  return { medianUs: at(0.5), p99Us: at(0.99), iterations };
}

export async function benchEvaluation(sizes: readonly number[] = [60, 5000]): Promise<EvaluationResult[]> {
  const library = loadLibrary();
  const now = new Date('2024-06-12T18:00:00Z');
  const today = todayUtc(now);
  const ctx: HookContext = {
    library,
    record: { fhirServerAllowed: () => false, fhirTimeoutMs: 1000, requestDeadlineMs: 1000, maxPages: 1, maxResources: 20_000 },
    questionnaireUrl: (p, v) => `http://localhost/fhir/Questionnaire/${p}-${v}`,
    now: () => now,
  };
  const out: EvaluationResult[] = [];
  for (const size of sizes) {
    for (const { policy, request } of benchRequests(size)) {
      const req = parseHookRequest(request, 'order-sign');
      const outcome = await decideAll(library, req, today);
      const iterations = size > 1000 ? 300 : 5000;
      const decide = await timeAsync(iterations, () => decideAll(library, req, today));
      const hook = await timeAsync(iterations, () => runHook(req, ctx));
      const resources = Object.values(request.prefetch).reduce(
        (n, v) => n + (v ? (v.resourceType === 'Bundle' ? ((v as { entry?: Resource[] }).entry ?? []).length : 1) : 0),
        0,
      );
      out.push({ policy, resources, outcome, decide, hook });
    }
  }
  return out;
}

if (process.argv[1]?.endsWith('evaluate.ts')) {
  for (const r of await benchEvaluation()) console.log(JSON.stringify(r));
}
