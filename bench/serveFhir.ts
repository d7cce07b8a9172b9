/**
 * `npm run bench:serve-fhir -- <folder>`: `serve-fhir` at Synthea scale. Loads a folder of Synthea
 * bundles as the command does, then measures search latency by `patient=` and by `subject=`
 * (and `beneficiary=` for Coverage), and the service's fhirServer fallback (no prefetch, default
 * timeouts) reading patients from it. Writes bench/results/serve-fhir.json.
 *
 * The data set is not in the repository: the 600-patient one measured in docs/performance.md is
 * `R4/SYNTHEA` of github.com/smart-on-fhir/generated-sample-data (one transaction Bundle per patient).
 *
 *   npm run bench:serve-fhir -- path/to/R4/SYNTHEA          (or SYNTHEA_DIR=path/to/R4/SYNTHEA)
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { createApp } from '../src/http/app.js';
import { observedDecision } from '../src/cards/observedDecision.js';
import { buildOrderSignRequest } from '../src/cli/hookRequest.js';
import { serveFhir } from '../src/cli/serveFhir.js';
import { testConfig } from '../src/config/config.js';
import { SERVICE_IDS } from '../src/hooks/discovery.js';
import { loadLibrary } from '../src/library/library.js';
import { BENCH_DIR } from './generate-record.js';

const DIR = process.argv[2] ?? process.env.SYNTHEA_DIR;
/** Patients whose searches are timed, spread evenly over the data set. */
const SAMPLE = Number(process.env.BENCH_SAMPLE ?? 100);
/** The types a lumbar MRI decision reads that Synthea writes; each has `patient` and `subject`. */
const TYPES = ['Condition', 'Observation', 'Encounter', 'Procedure', 'MedicationRequest', 'DiagnosticReport'] as const;

interface Latency {
  readonly n: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function latency(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 100) / 100;
  return { n: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99) };
}

function rssMb(): number {
  return Math.round(process.memoryUsage().rss / 2 ** 20);
}

async function timedGet(url: string): Promise<{ ms: number; total: number }> {
  const t = performance.now();
  const res = await fetch(url);
  const body = (await res.json()) as { total?: number };
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return { ms: performance.now() - t, total: body.total ?? 0 };
}

/** Every Patient id, paging as a client does. */
async function patientIds(baseUrl: string): Promise<string[]> {
  const ids: string[] = [];
  let next: string | undefined = `${baseUrl}/Patient?_count=1000&_elements=id`;
  while (next) {
    const bundle = (await (await fetch(next)).json()) as { entry?: { resource: { id: string } }[]; link?: { relation: string; url: string }[] };
    ids.push(...(bundle.entry ?? []).map((e) => e.resource.id));
    next = bundle.link?.find((l) => l.relation === 'next')?.url;
  }
  return ids;
}

async function main(): Promise<void> {
  if (!DIR || !existsSync(DIR)) {
    console.log('bench:serve-fhir: give a folder of Synthea bundles (argument or SYNTHEA_DIR), e.g. R4/SYNTHEA of smart-on-fhir/generated-sample-data');
    return;
  }
  const rssBefore = rssMb();
  const lines: string[] = [];
  const t0 = performance.now();
  // Polls while loading: the server must answer (503, Retry-After), not hang, until its data is in.
  const polls: { status: number; ms: number }[] = [];
  const port = 20000 + Math.floor(Math.random() * 40000);
  const started = serveFhir([DIR], { port, host: '127.0.0.1', basePath: '/fhir', pageSize: 50 }, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
  const poller = (async () => {
    for (;;) {
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/fhir/Patient?_count=1`).catch(() => undefined);
      if (!res) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      await res.arrayBuffer();
      polls.push({ status: res.status, ms: performance.now() - t });
      if (res.status !== 503) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const server = await started;
  if (!server) throw new Error(lines.join('\n'));
  const loadMs = performance.now() - t0;
  await poller;
  const rssLoaded = rssMb();
  console.log(lines.filter((l) => !l.startsWith('  warning')).join('\n'));
  const warnings = lines.filter((l) => l.startsWith('  warning')).length;
  console.log(`loaded in ${(loadMs / 1000).toFixed(1)} s (${warnings} warnings); RSS ${rssBefore} -> ${rssLoaded} MB; while loading: ${polls.filter((p) => p.status === 503).length} answers 503 (polled in this process, so a blocked event loop delays the poll too: no latency claimed)`);

  const ids = await patientIds(server.baseUrl);
  const step = Math.max(1, Math.floor(ids.length / SAMPLE));
  const sample = ids.filter((_, i) => i % step === 0).slice(0, SAMPLE);
  const byPatient: number[] = [];
  const bySubject: number[] = [];
  const byBeneficiary: number[] = [];
  let mismatches = 0;
  for (const id of sample) {
    for (const type of TYPES) {
      const p = await timedGet(`${server.baseUrl}/${type}?patient=${id}&_count=1000`);
      const s = await timedGet(`${server.baseUrl}/${type}?subject=Patient/${id}&_count=1000`);
      byPatient.push(p.ms);
      bySubject.push(s.ms);
      if (p.total !== s.total) mismatches++;
    }
    byBeneficiary.push((await timedGet(`${server.baseUrl}/Coverage?beneficiary=${id}`)).ms);
  }
  const search = { patient: latency(byPatient), subject: latency(bySubject), beneficiary: latency(byBeneficiary), mismatches };
  console.log(`search over ${sample.length} patients x ${TYPES.length} types: patient= p50 ${search.patient.p50Ms} ms p99 ${search.patient.p99Ms} ms; subject= p50 ${search.subject.p50Ms} ms p99 ${search.subject.p99Ms} ms; Coverage?beneficiary= p50 ${search.beneficiary.p50Ms} ms; totals differing: ${mismatches}`);

  // The service's fallback: no prefetch, the default timeouts, the record read from this server.
  const { app } = createApp(testConfig({ fhirServerAllowlist: [server.baseUrl] }), { library: loadLibrary() });
  const service = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const address = service.address();
  const serviceUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/cds-services/${SERVICE_IDS['order-sign']}`;
  const fallback: number[] = [];
  let unread = 0;
  for (const id of sample) {
    const body = buildOrderSignRequest({ patientId: id, resources: [] }, { fhirServer: server.baseUrl });
    const t = performance.now();
    const res = await fetch(serviceUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = (await res.json()) as Parameters<typeof observedDecision>[0];
    fallback.push(performance.now() - t);
    if (res.status !== 200 || /could not be read/i.test(JSON.stringify(answer))) unread++;
    else observedDecision(answer);
  }
  await new Promise((r) => service.close(r));
  const order = { ...latency(fallback), unread };
  console.log(`order-sign via fallback over ${sample.length} patients: p50 ${order.p50Ms} ms p99 ${order.p99Ms} ms; records not fully read: ${unread}`);
  await server.close();

  const resources = Number(/: (\d+) resources/.exec(lines.join('\n'))?.[1] ?? 0);
  const result = { date: new Date().toISOString(), dir: DIR.split('/').filter(Boolean).slice(-2).join('/'), patients: ids.length, resources, loadMs: Math.round(loadMs), warnings, rssLoadedMb: rssLoaded, loadingPolls: polls.length, search, fallback: order };
  mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
  const out = join(BENCH_DIR, 'results', 'serve-fhir.json');
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

await main();
