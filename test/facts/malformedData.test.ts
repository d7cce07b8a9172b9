import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { observedDecision } from '../support/outcome.js';
import { fixturePath } from '../helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FIXTURE = 'kp-wa-lumbar-mri/I.C-epidural-abscess-suspected-fever-fahrenheit-high-esr-met.json';

describe('a PractitionerRole whose specialty is not a list', () => {
  const { app } = createApp(testConfig());

  it('is read as one concept, and the request still decides (found by a sweep of every path)', async () => {
    const body = JSON.parse(readFileSync(fixturePath(FIXTURE), 'utf8'));
    const role = body.prefetch.practitionerRoles.entry[0].resource;
    role.specialty = { resourceType: 'OperationOutcome', issue: [] };
    const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(body);
    expect(res.status).toBe(200);
    expect(observedDecision(res.body).outcome).toBe('criteria-met');
    expect(JSON.stringify(res.body.cards)).not.toMatch(/could not be completed/);
  });
});

describe('an Observation whose value has the wrong shape', () => {
  const { app } = createApp(testConfig());

  it('does not match a value filter (FHIRPath throws on it) and the request still decides', async () => {
    const body = JSON.parse(readFileSync(fixturePath(FIXTURE), 'utf8'));
    const before = observedDecision((await request(app).post('/cds-services/lumbar-mri-order-sign').send(body)).body);
    expect(before.outcome).toBe('criteria-met');
    // Found by the HTTP fuzzer: every numeric value replaced by an object.
    for (const e of body.prefetch.observations.entry) {
      if (e.resource.valueQuantity) e.resource.valueQuantity.value = { resourceType: 'OperationOutcome', issue: [] };
    }
    const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(body);
    expect(res.status).toBe(200);
    // Without a readable temperature or ESR the infection criterion is no longer met outright.
    expect(observedDecision(res.body).outcome).not.toBe('criteria-met');
    expect(JSON.stringify(res.body.cards)).not.toMatch(/could not be completed/);
  });
});
