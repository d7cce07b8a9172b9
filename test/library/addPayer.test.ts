/**
 * docs/architecture.md, "Add a payer": a new payer is a policy folder and a routing row, no code.
 * In a copy of cds-services/, a minimal policy (one criterion over a shared fact and a fact of its
 * own) and one routing rule; the service built on that folder decides an order through it.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { loadLibrary } from '../../src/library/library.js';
import { copyPolicyDir, editJson } from '../helpers/policyDir.js';
import { observedDecision } from '../support/outcome.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CAUDA = 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json';
const ACME = 'Acme Health Plan';

const dir = copyPolicyDir();
afterAll(() => rmSync(dirname(dir), { recursive: true, force: true }));

const write = (path: string, json: unknown): void => {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), `${JSON.stringify(json, null, 2)}\n`);
};

// The policy folder: its version, and the one fact only it uses (over a shared one).
write('acme-lumbar-mri/facts.json', {
  'acme-sphincter-dysfunction': {
    text: 'New bladder dysfunction with saddle numbness',
    specific: true,
    derive: { all: [{ fact: 'bladder-dysfunction' }, { fact: 'saddle-anesthesia' }] },
  },
});
write('acme-lumbar-mri/2024-01-01/policy.json', {
  policyId: 'acme-lumbar-mri',
  version: '2024-01-01',
  title: 'Acme Health Plan lumbar spine MRI criteria',
  payer: ACME,
  source: 'A test payer (test/library/addPayer.test.ts)',
  effective: { from: '2024-01-01' },
  kind: 'criteria',
  exclusions: [],
  indications: [{ kind: 'fact', id: 'ACME.1', text: 'Suspected cauda equina syndrome', fact: 'acme-sphincter-dysfunction', cite: true }],
  reviews: [],
  notices: [],
  alternatives: [],
});
// The routing row, first: Acme's coverages go to Acme's policy.
editJson<{ rules: unknown[] }>(join(dir, 'routing.json'), (r) => {
  r.rules.unshift({ id: 'acme', payorNames: [ACME], policyId: 'acme-lumbar-mri' });
});

/** The cauda equina patient of the KP case table, covered by Acme instead. */
function acmeRequest(): object {
  return JSON.parse(readFileSync(join(ROOT, CAUDA), 'utf8').replaceAll('Kaiser Foundation Health Plan of Washington', ACME)) as object;
}

describe('adding a payer is adding a folder and a routing row', () => {
  it('the library loads the new policy beside the others', () => {
    const library = loadLibrary(dir);
    expect(library.policies.map((p) => `${p.policyId}@${p.version}`)).toContain('acme-lumbar-mri@2024-01-01');
    expect(library.facts.get('acme-sphincter-dysfunction')?.text).toBe('New bladder dysfunction with saddle numbness');
  });

  it("an order of an Acme patient is decided by Acme's criterion", async () => {
    const { app } = createApp(testConfig({ policyDir: dir }));
    const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(acmeRequest());
    expect(res.status).toBe(200);
    expect(observedDecision(res.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'ACME.1' });
    expect(JSON.stringify(res.body.cards)).toContain('Acme Health Plan lumbar spine MRI criteria');
  });

  it('the same patient under the repository data is still decided by KP (the copy changed nothing else)', async () => {
    const { app } = createApp(testConfig());
    const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(acmeRequest());
    expect(res.status).toBe(200);
    expect(observedDecision(res.body).outcome).toBe('no-coverage');
  });
});
