/**
 * A decision answered 200 is a decision recorded: the record is written before the answer is sent,
 * and a call whose record cannot be kept is answered 503 (and counted), never 200.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { createMetrics } from '../../src/http/metrics.js';
import { eventRecorder } from '../../src/records/eventRecorder.js';
import { registerRecordMetrics } from '../../src/records/recordMetrics.js';
import { IN_MEMORY, openSqlite } from '../../src/store/openRecordDatabase.js';
import { EmbeddedRecordLog } from '../../src/store/recordLog.js';
import { SqlDecisionRecordStore } from '../../src/store/sqlDecisionRecordStore.js';
import { captureLogger } from '../helpers/logs.js';
import { countResources, readFixture, withHistory } from '../../bench/generate-record.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CAUDA = JSON.parse(readFileSync(join(ROOT, 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json'), 'utf8'));
const SIGN = '/cds-services/lumbar-mri-order-sign';

describe('the record is kept before the answer', () => {
  it('a 200 order-sign has its record in the embedded store when the answer arrives', async () => {
    const handle = await openSqlite(IN_MEMORY);
    const store = new SqlDecisionRecordStore(handle.db);
    const { app } = createApp(testConfig(), { recorder: eventRecorder(new EmbeddedRecordLog(store)), records: store });
    const res = await request(app).post(SIGN).send(CAUDA);
    expect(res.status).toBe(200);
    // No flush, no wait: the record is there.
    const listed = await store.listAssertions({ patient: `Patient/${CAUDA.context.patientId}` });
    expect(listed).toHaveLength(1);
    expect(listed[0].call.hookInstance).toBe(CAUDA.hookInstance);
    await handle.close();
  });

  it('when the local store cannot be written, the call is answered 503 OperationOutcome, logged and counted', async () => {
    const handle = await openSqlite(IN_MEMORY);
    const store = new SqlDecisionRecordStore(handle.db);
    const log = new EmbeddedRecordLog(store);
    await handle.close(); // every write now fails, as on a full or vanished disk
    const metrics = createMetrics();
    registerRecordMetrics(metrics.registry, log);
    const { logger, lines } = captureLogger();
    const { app } = createApp(testConfig(), { logger, metrics, recorder: eventRecorder(log), records: store });
    const res = await request(app).post(SIGN).send(CAUDA);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'transient' }] });
    expect(lines.some((l) => l.includes('decision record could not be kept'))).toBe(true);
    expect((await metrics.render()).body).toMatch(/^cds_decision_record_local_write_failures_total 1$/m);
  });
});

describe('limits that agree', () => {
  it('a 10,000-resource record is accepted by the default body and resource limits', async () => {
    const config = testConfig();
    // The bench's realistic history (visits, diagnoses, labs, medications, notes) up to 10,000 resources.
    const body = withHistory(readFixture(), 10_000);
    expect(countResources(body)).toBe(10_000);
    expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(5 * 1024 * 1024);
    const { app } = createApp(config);
    const res = await request(app).post(SIGN).send(body);
    expect(res.status).toBe(200);
    expect(config.maxResources).toBe(20_000);
    expect(config.bodyLimit).toBe('40mb');
  });

  it('a rejected request is logged on one line with the status and the field at fault, no PHI', async () => {
    const { logger, lines } = captureLogger();
    const { app } = createApp(testConfig(), { logger });
    const { patientId: _gone, ...context } = CAUDA.context;
    const res = await request(app).post(SIGN).send({ ...CAUDA, context });
    expect(res.status).toBe(400);
    const rejected = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ status: 400, method: 'POST', path: SIGN, code: 'invalid' });
    expect(rejected[0].expression).toMatch(/patientId/);
    const text = lines.join('\n');
    expect(text).not.toContain(CAUDA.prefetch.patient.birthDate);
    expect(text).not.toContain(JSON.stringify(CAUDA.prefetch.patient.name[0].family));
  });

  it('the default body limit admits a record of MAX_RESOURCES resources', () => {
    const config = testConfig();
    const body = withHistory(readFixture(), config.maxResources);
    expect(countResources(body)).toBe(config.maxResources);
    expect(config.bodyLimit).toBe('40mb');
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(40 * 1024 * 1024);
  });

  it('a body over the limit is answered 413 and logged on one line, without the body', async () => {
    const { logger, lines } = captureLogger();
    const { app } = createApp(testConfig({ bodyLimit: '1kb' }), { logger });
    const res = await request(app).post(SIGN).send(CAUDA);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'too-costly' }] });
    const rejected = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ status: 413, path: SIGN, code: 'entity.too.large' });
    expect(lines.join('\n')).not.toContain(CAUDA.prefetch.patient.birthDate);
  });
});
