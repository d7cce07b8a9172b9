import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { fixtureFolders } from '../../src/library/fixtures.js';
import { listFixtures, type FixtureEntry } from '../../src/playground/playgroundRouter.js';
import { fixturePath } from '../helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CAUDA = 'kp-wa-lumbar-mri/I.B-cauda-equina-saddle-numbness-urinary-retention.json';

describe('/playground', () => {
  const { app } = createApp(testConfig());

  it('redirects to the folder URL, then serves the built page and its script with no external resource', async () => {
    const bare = await request(app).get('/playground');
    expect(bare.status).toBe(301);
    expect(bare.headers.location).toBe('/playground/');
    const page = await request(app).get('/playground/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('<script type="module" src="main.js">');
    expect(page.text).not.toMatch(/(src|href)="(https?:)?\/\//);
    const script = await request(app).get('/playground/main.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(script.text).not.toMatch(/https:\/\/cdn|unpkg\.com|jsdelivr/);
  });

  it('serves the form renderer (LHC-Forms) from its npm package: the web component and the FHIR R4 support only', async () => {
    for (const path of ['webcomponent/main.js', 'webcomponent/runtime.js', 'webcomponent/polyfills.js', 'webcomponent/assets/lib/zone.min.js', 'fhir/R4/lformsFHIR.min.js']) {
      const res = await request(app).get(`/playground/lforms/${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type'], path).toMatch(/javascript/);
    }
    expect((await request(app).get('/playground/lforms/webcomponent/styles.css')).headers['content-type']).toMatch(/text\/css/);
    for (const path of ['README.md', 'fhir/R5/lformsFHIR.min.js', 'webcomponent/', '../package.json']) {
      expect((await request(app).get(`/playground/lforms/${path}`)).status, path).toBe(404);
    }
    const page = await request(app).get('/playground/form.html');
    expect(page.status).toBe(200);
    expect(page.text).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('lists the hook-request fixtures, not the scenario definitions', async () => {
    const res = await request(app).get('/playground/fixtures');
    expect(res.status).toBe(200);
    const paths = (res.body.fixtures as FixtureEntry[]).map((f) => f.path);
    expect(paths).toContain(CAUDA);
    expect(paths).toContain('sandbox/order-select-entering-tab.json');
    expect(paths.some((p) => p.startsWith('scenarios/'))).toBe(false);
    const cauda = (res.body.fixtures as FixtureEntry[]).find((f) => f.path === CAUDA);
    expect(cauda).toMatchObject({ hook: 'order-sign', description: expect.stringContaining('cauda equina') });
  });

  it('gives each fixture the outcome its case table expects, to group the list', async () => {
    const res = await request(app).get('/playground/fixtures');
    const byPath = new Map((res.body.fixtures as FixtureEntry[]).map((f) => [f.path, f.outcome]));
    expect(byPath.get('kp-wa-lumbar-mri/I.B-cauda-equina-saddle-numbness-urinary-retention.json')).toBe('criteria-met');
    expect(byPath.get('kp-wa-lumbar-mri/I.A-stable-exam-no-red-flags-not-indicated.json')).toBe('not-indicated');
    expect(byPath.get('kp-wa-lumbar-mri/I.0-onset-undated-cauda-equina-missing-doc.json')).toBe('documentation-missing');
    expect(byPath.get('sandbox/order-select-72148-low-back-pain.json')).toBeUndefined();
  });

  it('serves one fixture as stored', async () => {
    const res = await request(app).get(`/playground/fixtures/${CAUDA}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(JSON.parse(readFileSync(fixturePath(CAUDA), 'utf8')));
  });

  it.each([
    ['a missing fixture', '/playground/fixtures/kp-wa-lumbar-mri/nope.json'],
    ['a path out of the folder', '/playground/fixtures/..%2Fpackage.json'],
    ['a dot-dot segment', '/playground/fixtures/sandbox/..%2F..%2Fpackage.json'],
    ['a scenario definition', '/playground/fixtures/scenarios/routing.json'],
    ["a policy's scenario definition", '/playground/fixtures/kp-wa-lumbar-mri/..%2Fscenarios%2FI.json'],
  ])('answers 404 (an OperationOutcome) for %s', async (_label, path) => {
    const res = await request(app).get(path);
    expect(res.status).toBe(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });

  it('lists nothing for a folder that does not exist', () => {
    expect(listFixtures(fixtureFolders(join(ROOT, 'no-such-folder'), join(ROOT, 'no-such-folder')))).toEqual([]);
  });
});
