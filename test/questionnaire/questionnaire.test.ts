import type { Bundle, OperationOutcome, Questionnaire } from 'fhir/r4.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { knownFindingCodes } from '../../src/facts/documentationFindings.js';
import { findingsBySection } from '../../src/questionnaire/questionnaire.js';
import { SYSTEMS } from '../../src/terminology/valueSets.js';

const BASE = 'https://cds.example.org';
const { app, library } = createApp(testConfig({ publicBaseUrl: BASE }));
const MA = `${BASE}/fhir/Questionnaire/medicare-advantage-lumbar-mri-1.1`;

describe('GET /fhir/Questionnaire/:id', () => {
  it('serves the Medicare Advantage questionnaire: boolean items coded in the finding system, grouped by section', async () => {
    const res = await request(app).get('/fhir/Questionnaire/medicare-advantage-lumbar-mri-1.1');
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/fhir+json');
    const q = res.body as Questionnaire;
    expect(q).toMatchObject({ resourceType: 'Questionnaire', url: MA, version: '1.1', status: 'active' });
    expect(q.name).toMatch(/^[A-Z][A-Za-z0-9_]*$/);
    const groups = q.item ?? [];
    expect(groups.map((g) => g.linkId)).toEqual(expect.arrayContaining(['IND.1', 'IND.2', 'IND.4', 'IND.5', 'NON.1']));
    const items = groups.flatMap((g) => g.item ?? []);
    expect(groups.every((g) => g.type === 'group')).toBe(true);
    expect(items.every((i) => i.type === 'boolean' && i.code?.[0].system === SYSTEMS.finding && i.code[0].code === i.linkId && !!i.text)).toBe(true);
    const linkIds = [...groups, ...items].map((i) => i.linkId);
    expect(new Set(linkIds).size).toBe(linkIds.length);
    expect(items.map((i) => i.linkId)).toEqual(expect.arrayContaining(['saddle-anesthesia', 'anal-sphincter-laxity', 'pain-worse-supine-at-night', 'ct-inconclusive', 'surgery-under-consideration']));
    // The item asks in its own finding's words (cds-services/common/findings.json).
    expect(items.find((i) => i.linkId === 'ct-inconclusive')?.text).toBe(library.findings.get('ct-inconclusive')?.question);
  });

  it('asks for every finding of every criteria policy once, and only known finding codes', () => {
    const known = knownFindingCodes(library.facts);
    for (const p of library.policies.filter((x) => x.kind === 'criteria')) {
      const codes = findingsBySection(p, library.facts, library.findings).flatMap((s) => s.findings.map((f) => f.code));
      expect(codes.length, p.policyId).toBeGreaterThan(0);
      expect(new Set(codes).size, p.policyId).toBe(codes.length);
      expect(codes.filter((c) => !known.has(c)), p.policyId).toEqual([]);
    }
  });

  it('answers 404 with an OperationOutcome for an unknown id', async () => {
    const res = await request(app).get('/fhir/Questionnaire/kp-wa-medicare-lumbar-mri-2020-09-01');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject<Partial<OperationOutcome>>({ resourceType: 'OperationOutcome', issue: [expect.objectContaining({ code: 'not-found' })] });
  });
});

describe('GET /fhir/Questionnaire?url=', () => {
  it('finds a questionnaire by canonical, with or without |version', async () => {
    for (const url of [MA, `${MA}|1.1`]) {
      const res = await request(app).get('/fhir/Questionnaire').query({ url });
      const bundle = res.body as Bundle;
      expect(res.status).toBe(200);
      expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
      expect((bundle.entry?.[0].resource as Questionnaire).url).toBe(MA);
    }
  });

  it('answers an empty searchset for an unknown canonical or version', async () => {
    for (const url of [`${BASE}/fhir/Questionnaire/nope`, `${MA}|9.9`]) {
      const res = await request(app).get('/fhir/Questionnaire').query({ url });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ type: 'searchset', total: 0 });
    }
  });

  it('lists one questionnaire per criteria policy version without a url', async () => {
    const res = await request(app).get('/fhir/Questionnaire');
    expect(res.body.total).toBe(library.policies.filter((p) => p.kind === 'criteria').length);
  });
});
