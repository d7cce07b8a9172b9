/**
 * Fault suite (issue 18 item 1): every decision answered 200 has its record in PostgreSQL once the
 * fault is over. PostgreSQL is the real server, reached through a loopback TCP proxy that the tests
 * pause (a stalled database) or stop (an unreachable one); a slow batch write is a table lock held
 * by another session. The service runs in process with its local SQLite outbox in a temp folder.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig, type Config } from '../../src/config/config.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/http/metrics.js';
import { registerRecordMetrics } from '../../src/records/recordMetrics.js';
import { setupDecisionRecords, type DecisionRecords } from '../../src/records/setup.js';
import { driveLoad } from '../helpers/load.js';
import { createTestDatabase, storedHookCalls, throughProxy } from '../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CAUDA = JSON.parse(readFileSync(join(ROOT, 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json'), 'utf8'));
const SIGN = '/cds-services/lumbar-mri-order-sign';
const body = (): string => JSON.stringify({ ...CAUDA, hookInstance: randomUUID() });

describe('no decision record lost: PostgreSQL faults under load', () => {
  let db: { url: string; drop: () => Promise<void> };
  let proxy: TcpProxy;
  let dataDir: string;
  let records: DecisionRecords;
  let server: Server;
  let base: string;

  async function startService(overrides: Partial<Config> = {}): Promise<void> {
    // No per-client rate limit: the load here is one client well past 1200 calls a minute on a quiet machine.
    const config = testConfig({ databaseUrl: throughProxy(db.url, proxy.port), recordDataDir: dataDir, rateLimitPerMinute: 0, ...overrides });
    const logger = createLogger('silent');
    records = await setupDecisionRecords(config, logger);
    const metrics = createMetrics();
    registerRecordMetrics(metrics.registry, records.log);
    const { app } = createApp(config, { logger, metrics, recorder: records.recorder, records: records.store, readiness: [records.readiness] });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  beforeEach(async () => {
    db = await createTestDatabase();
    proxy = await startTcpProxy(Number(new URL(db.url).port || 5432));
    dataDir = mkdtempSync(join(tmpdir(), 'lumbar-outbox-'));
  });

  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await records?.close(1_000);
    await proxy.close();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Load for `ms` with a fault from 1 s to 3 s; the most records seen waiting during the fault. */
  async function loadThroughFault(fault: { begin: () => unknown; end: () => unknown }, ms = 5_000) {
    let peakPending = 0;
    const sampler = setInterval(() => {
      peakPending = Math.max(peakPending, records.log.pending());
    }, 25);
    const begin = setTimeout(() => void fault.begin(), 1_000);
    const end = setTimeout(() => void fault.end(), 3_000);
    try {
      const load = await driveLoad(`${base}${SIGN}`, body, { connections: 8, durationMs: ms });
      return { load, peakPending };
    } finally {
      clearInterval(sampler);
      clearTimeout(begin);
      clearTimeout(end);
    }
  }

  async function expectAllStored(answered: number): Promise<void> {
    expect(await records.log.flush(15_000)).toBe(0);
    expect(await storedHookCalls(db.url)).toBe(answered);
  }

  it('PostgreSQL stalled for 2 s (every byte held): records wait locally, then all arrive', async () => {
    await startService();
    const { load, peakPending } = await loadThroughFault({ begin: () => proxy.pause(), end: () => proxy.resume() });
    expect(load.other + load.failed).toBe(0);
    expect(load.ok).toBeGreaterThan(50);
    expect(peakPending).toBeGreaterThan(5);
    await expectAllStored(load.ok);
  });

  it('PostgreSQL unreachable for 2 s (connections refused and cut): records wait locally, then all arrive', async () => {
    await startService();
    let pendingSeen = -1;
    let metricsText = '';
    const { load } = await loadThroughFault({
      begin: () => proxy.stop(),
      end: async () => {
        // During the outage: the backlog is in /metrics, and readiness still holds (below its threshold).
        pendingSeen = records.log.pending();
        metricsText = await (await fetch(`${base}/metrics`)).text();
        await proxy.start();
      },
    });
    expect(load.other + load.failed).toBe(0);
    expect(pendingSeen).toBeGreaterThan(5);
    const gauge = Number(/^cds_decision_records_pending (\d+)$/m.exec(metricsText)?.[1]);
    expect(gauge).toBeGreaterThan(5);
    expect(records.log.stats().deliveryFailures).toBeGreaterThan(0);
    await expectAllStored(load.ok);
    const after = await (await fetch(`${base}/metrics`)).text();
    expect(after).toMatch(/^cds_decision_records_pending 0$/m);
  });

  it('a slow batch write under load (table locked 2 s by another session): the next batch takes the backlog', async () => {
    await startService();
    // The schema exists (first delivery done) before another session can lock its table.
    expect((await fetch(`${base}${SIGN}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body() })).status).toBe(200);
    expect(await records.log.flush(15_000)).toBe(0);
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      const { load, peakPending } = await loadThroughFault({
        begin: async () => {
          await locker.query('BEGIN');
          await locker.query('LOCK TABLE hook_calls IN ACCESS EXCLUSIVE MODE');
        },
        end: () => locker.query('COMMIT'),
      });
      expect(load.other + load.failed).toBe(0);
      expect(peakPending).toBeGreaterThan(5);
      await expectAllStored(load.ok + 1);
    } finally {
      await locker.end();
    }
  });

  it('readiness names the backlog once it passes its threshold, and is ready again when delivered', async () => {
    await startService({ recordOutboxReadyMax: 5 });
    await proxy.stop();
    const load = await driveLoad(`${base}${SIGN}`, body, { connections: 2, durationMs: 60_000, until: waitFor(() => records.log.pending() >= 8) });
    expect(load.ok).toBeGreaterThanOrEqual(8);
    const down = await fetch(`${base}/health/ready`);
    expect(down.status).toBe(503);
    const report = await down.json();
    expect(report.checks['decision-records']).toMatch(/^\d+ decision records waiting for PostgreSQL \(ready below 5\); PostgreSQL: /);
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    await proxy.start();
    await expectAllStored(load.ok);
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
  });
});

function waitFor(cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (cond()) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
}
