/**
 * Where one order-sign request's CPU goes, measured in this process and so independent of what else
 * runs on the machine: each stage of the request path is called directly, in the order the service
 * runs it, on many distinct patients; per stage the mean CPU time of this process (user + system,
 * garbage collection threads included; time the process waited for a core is not counted; `runtime`
 * is what V8 runs when the event loop turns: deferred garbage collection and compilation). Then the whole request through the real
 * Express app and the floor over loopback, as CPU time of this process (client included on both
 * sides, so their difference is what the service adds).
 *
 *   npx tsx bench/stages.ts [60 500 2500 10000]
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServiceRequest } from 'fhir/r4.js';
import express from 'express';
import pino from 'pino';
import { createApp } from '../src/http/app.js';
import { loadConfig, type Config } from '../src/config/config.js';
import { dateOfService, decideOrder, isEngineDecision } from '../src/decision/decideOrder.js';
import { createDecisionCache, decisionKey, worthCaching } from '../src/decision/decisionCache.js';
import { evaluatePolicy } from '../src/engine/evaluate.js';
import { FactContext } from '../src/facts/FactContext.js';
import { knownFindingCodes } from '../src/facts/documentationFindings.js';
import { orderAnswers } from '../src/facts/questionnaireAnswers.js';
import { todayUtc } from '../src/fhir/dates.js';
import { checkRequestLimits } from '../src/hooks/limits.js';
import { parseHookRequest } from '../src/hooks/schema.js';
import { loadLibrary } from '../src/library/library.js';
import { createMetrics } from '../src/http/metrics.js';
import type { HookEvent } from '../src/pipeline/events.js';
import { ordersInScope, runHook, type HookContext } from '../src/pipeline/runHook.js';
import { hookContextFromConfig } from '../src/pipeline/context.js';
import { loadRecord } from '../src/record/loadRecord.js';
import { setupDecisionRecords } from '../src/records/setup.js';
import { hookLogLine } from '../src/pipeline/hookLog.js';
import { patientsOf } from './patients.js';
import { readFixture, withHistory } from './generate-record.js';

/** The stages of an order-sign, in the order the service runs them. */
export const STAGES = ['parse', 'limits', 'validation', 'recordIndex', 'cacheKey', 'facts', 'engine', 'cards', 'response', 'runtime', 'records', 'logging', 'metrics'] as const;
export type Stage = (typeof STAGES)[number];

export interface StageBreakdown {
  readonly resources: number;
  readonly iterations: number;
  /** Mean CPU µs per stage. */
  readonly stagesUs: Readonly<Record<Stage, number>>;
  /** Sum of the stages. */
  readonly totalUs: number;
  /** The whole request through HTTP and Express, CPU µs of this process per request (client included). */
  readonly httpServiceCpuUs: number;
  readonly httpFloorCpuUs: number;
}

const mean = (xs: number[]): number => Math.round((xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)) * 10) / 10;

/** CPU µs this process has used (all threads), precise to the µs on Linux. */
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

function benchConfig(dir: string, databaseUrl?: string): Config {
  // As `npm start` runs in the bench: defaults, no rate limit, records in a fresh folder.
  // Load shedding off: a sequential client never overloads it, but a preempted process can look delayed.
  return loadConfig({ RATE_LIMIT_PER_MINUTE: '0', MAX_EVENT_LOOP_DELAY_MS: '0', RECORD_DATA_DIR: dir, LOG_LEVEL: 'info', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) });
}

/** Each stage of the request path called directly, `iterations` times over distinct patients. */
async function stagesOf(bodies: readonly string[], iterations: number, config: Config, dir: string): Promise<Record<Stage, number>> {
  const library = loadLibrary();
  const logger = pino({ level: 'info', base: { service: 'lumbar-mri-cds' } }, pino.destination({ dest: '/dev/null', sync: true }));
  const records = await setupDecisionRecords(config, logger);
  const metrics = createMetrics({ processMetrics: true });
  const now = new Date('2024-06-12T18:00:00Z');
  const today = todayUtc(now);
  const ctx: HookContext = hookContextFromConfig(config, library, { now: () => now });
  const findingCodes = knownFindingCodes(library.facts);
  const decisionCache = createDecisionCache(config);
  const samples = Object.fromEntries(STAGES.map((s) => [s, [] as number[]])) as Record<Stage, number[]>;
  const warm = Math.min(100, iterations);
  try {
    for (let i = 0; i < iterations + warm; i++) {
      const body = Buffer.from(bodies[i % bodies.length]);
      const t: number[] = [cpuNow()];
      const lap = (): void => void t.push(cpuNow());
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      lap();
      checkRequestLimits(parsed, config);
      lap();
      const req = parseHookRequest(parsed, 'order-sign');
      lap();
      const loaded = await loadRecord(req, { ...ctx.record, valueSets: library.valueSets, deadline: Date.now() + 3000 });
      lap();
      const [o] = ordersInScope(req);
      const draftEntries = req.context.draftOrders.entry ?? [];
      // The service keys only bodies worth caching (src/decision/decisionCache.ts: up to 1 MB), and on
      // order-sign only for a patient order-select left entries for (none here: distinct patients).
      if (decisionCache && worthCaching(body) && (await decisionCache.mayHoldPatient(req.context.patientId))) {
        decisionKey(library, { patientId: req.context.patientId, prefetch: req.prefetch, order: o.order, orderRef: o.ref, cpt: o.cpt, dateOfService: dateOfService(o.order, today), draftEntries, body });
      }
      lap();
      // Facts: the ones the decision reads, computed into a fresh context; the engine then reads them memoised.
      // (learnt on a record of its own: the measured one keeps its value-set indexes unbuilt, as in the service)
      const probeRecord = await loadRecord(req, { ...ctx.record, valueSets: library.valueSets, deadline: Date.now() + 3000 });
      const probe = decideOrder(library, probeRecord.record, o.order, o.ref, o.cpt, today, draftEntries);
      const ids = isEngineDecision(probe) && probe.facts ? [...probe.facts.computed().keys()] : [];
      const t0 = cpuNow();
      const routing = library.router.route(loaded.record, probe.dateOfService);
      const answered = orderAnswers(library.policies, findingCodes, loaded.record, o.order as ServiceRequest, draftEntries);
      const facts = new FactContext(library.facts, loaded.record, o.order, probe.dateOfService, answered.answers);
      for (const id of ids) facts.fact(id);
      const t1 = cpuNow();
      if (routing.kind === 'routed' && routing.policy.kind !== 'no-review-required') evaluatePolicy(routing.policy, facts, probe.dateOfService, o.cpt);
      const t2 = cpuNow();
      // Cards: the hook (record, decision, cards) less what the stages above measured.
      const result = await runHook(req, { ...ctx, requestBody: body });
      const t3 = cpuNow();
      const json = JSON.stringify(result.response);
      const t4a = cpuNow();
      // One turn of the event loop: work V8 left for later (garbage collection steps, compilation)
      // runs here, not inside the records write that waits for the next turn anyway.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const t4 = cpuNow();
      const event: HookEvent = {
        requestId: `bench-${i}`,
        serviceId: 'lumbar-mri-order-sign',
        hook: 'order-sign',
        hookInstance: req.hookInstance,
        patientId: req.context.patientId,
        receivedAt: now,
        durationMs: 1.5,
        outcome: result,
      };
      await records.recorder.recordHook(event);
      const t5 = cpuNow();
      logger.info(hookLogLine(event), 'hook');
      const t6 = cpuNow();
      metrics.observer.onHook?.(event);
      const t7 = cpuNow();
      if (json.length === 0) throw new Error('empty response');
      if (i < warm) continue;
      const [p0, p1, p2, p3, p4, p5] = t;
      samples.parse.push(p1 - p0);
      samples.limits.push(p2 - p1);
      samples.validation.push(p3 - p2);
      samples.recordIndex.push(p4 - p3);
      samples.cacheKey.push(p5 - p4);
      samples.facts.push(t1 - t0);
      samples.engine.push(t2 - t1);
      samples.cards.push(Math.max(0, t3 - t2 - (p4 - p3) - (t2 - t0)));
      samples.response.push(t4a - t3);
      samples.runtime.push(t4 - t4a);
      samples.records.push(t5 - t4);
      samples.logging.push(t6 - t5);
      samples.metrics.push(t7 - t6);
    }
  } finally {
    await records.close(1000);
  }
  // Each stage's reading includes about one call of process.cpuUsage() (a system call): measured and taken off.
  const calls: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const a = cpuNow();
    calls.push(cpuNow() - a);
  }
  const overhead = mean(calls);
  return Object.fromEntries(STAGES.map((s) => [s, Math.max(0, Math.round((mean(samples[s]) - overhead) * 10) / 10)])) as Record<Stage, number>;
}

/** CPU µs of this process per request, sequential over one keep-alive connection. */
async function httpCpu(app: express.Express, bodies: readonly string[], iterations: number): Promise<number> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send = (body: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const r = httpRequest(
        { host: '127.0.0.1', port, path: '/cds-services/lumbar-mri-order-sign', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => void (text.length < 500 && (text += c.toString())));
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}: ${text.slice(0, 300)}`))));
        },
      );
      r.on('error', reject);
      r.end(body);
    });
  try {
    for (let i = 0; i < Math.min(100, iterations); i++) await send(bodies[i % bodies.length]);
    const before = process.cpuUsage();
    for (let i = 0; i < iterations; i++) await send(bodies[i % bodies.length]);
    const used = process.cpuUsage(before);
    return Math.round((used.user + used.system) / iterations);
  } finally {
    agent.destroy();
    server.close();
  }
}

/** The floor of bench/floor.ts, in this process. */
function floorApp(limit: string): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.post('/cds-services/:id', express.json({ limit, type: ['application/json', 'application/*+json'] }), (req, res) => {
    res.json(req.body && typeof req.body === 'object' ? { cards: [{ uuid: '7c1d2b8e-0f1a-4b7e-9a51-3f0e6c1d2b8e', summary: 'Fixed card', indicator: 'info', source: { label: 'floor' } }], systemActions: [] } : { cards: [] });
  });
  return app;
}

export async function stageBreakdown(sizes: readonly number[], options: { databaseUrl?: string } = {}): Promise<StageBreakdown[]> {
  const out: StageBreakdown[] = [];
  for (const resources of sizes) {
    const base = JSON.stringify(withHistory(readFixture(), resources));
    const bodies = patientsOf(base, Math.max(4, Math.min(100, Math.floor(30e6 / base.length))));
    const iterations = resources >= 10_000 ? 30 : resources >= 2_500 ? 100 : resources >= 500 ? 400 : 2000;
    const dir = mkdtempSync(join(tmpdir(), 'bench-stages-'));
    try {
      const config = benchConfig(dir, options.databaseUrl);
      const stagesUs = await stagesOf(bodies, iterations, config, join(dir, 'stages'));
      const httpDir = join(dir, 'http');
      const httpConfig = benchConfig(httpDir, options.databaseUrl);
      const logger = pino({ level: 'info', base: { service: 'lumbar-mri-cds' } }, pino.destination({ dest: '/dev/null', sync: true }));
      const records = await setupDecisionRecords(httpConfig, logger);
      const { app } = createApp(httpConfig, { logger, metrics: createMetrics({ processMetrics: true }), recorder: records.recorder, records: records.store, readiness: [records.readiness] });
      const httpIterations = Math.max(20, Math.round(iterations / 3));
      const httpServiceCpuUs = await httpCpu(app, bodies, httpIterations);
      await records.close(1000);
      const httpFloorCpuUs = await httpCpu(floorApp(httpConfig.bodyLimit), bodies, httpIterations);
      const totalUs = Math.round(STAGES.reduce((n, s) => n + stagesUs[s], 0));
      out.push({ resources, iterations, stagesUs, totalUs, httpServiceCpuUs, httpFloorCpuUs });
      process.stderr.write(`stages: ${resources} resources: ${totalUs} µs in stages, HTTP CPU ${httpServiceCpuUs} µs (floor ${httpFloorCpuUs})\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

export function stageTable(rows: readonly StageBreakdown[]): string {
  const head = `| stage | ${rows.map((r) => `${r.resources} res. µs`).join(' | ')} |`;
  const lines = [head, `|---|${rows.map(() => '---').join('|')}|`];
  for (const s of STAGES) lines.push(`| ${s} | ${rows.map((r) => r.stagesUs[s]).join(' | ')} |`);
  lines.push(`| **sum of stages** | ${rows.map((r) => `**${r.totalUs}**`).join(' | ')} |`);
  lines.push(`| whole request over HTTP, service (CPU, client included) | ${rows.map((r) => r.httpServiceCpuUs).join(' | ')} |`);
  lines.push(`| whole request over HTTP, floor (CPU, client included) | ${rows.map((r) => r.httpFloorCpuUs).join(' | ')} |`);
  lines.push(`| floor / service CPU | ${rows.map((r) => (r.httpFloorCpuUs / r.httpServiceCpuUs).toFixed(2)).join(' | ')} |`);
  return lines.join('\n');
}

if (process.argv[1]?.endsWith('stages.ts')) {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const rows = await stageBreakdown(sizes.length ? sizes : [60, 2500, 10000]);
  console.log(stageTable(rows));
  console.log(JSON.stringify(rows));
}
