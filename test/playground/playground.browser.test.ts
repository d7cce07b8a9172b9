/**
 * The playground in a real browser (playwright-core + Chromium from the npm package @sparticuz/chromium): the app on an ephemeral
 * loopback port, the page driven as a tester would. Screenshots of each step go to
 * test-artifacts/playground/; with PLAYGROUND_DOCS_SCREENSHOT=1 the documentation-missing step is also
 * written to docs/playground.png (the README picture).
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config/config.js';
import type { DecisionRecords } from '../../src/records/setup.js';
import { launchChromium } from '../helpers/browser.js';
import { recordedApp } from '../helpers/recordedApp.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'playground');
const CAUDA = 'kp-wa-lumbar-mri/I.B-cauda-equina-saddle-numbness-urinary-retention.json';
const FRACTURE_UNDOCUMENTED = 'medicare-advantage-lumbar-mri/IND.2-known-fracture-surgery-undocumented.json';
/** KP III.B.2.b: the surgeon's request for a preoperative MRI is not documented; the record has the rest. */
const SURGEON_REQUEST_UNDOCUMENTED = 'kp-wa-lumbar-mri/III.B.2.b-surgeon-request-undocumented.json';

describe('playground in the browser', () => {
  let server: Server;
  let origin: string;
  let browser: Browser;
  let page: Page;
  let records: DecisionRecords;
  const pageErrors: string[] = [];
  const offOrigin: string[] = [];

  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  const coverageText = () => page.locator('#coverage-info').innerText();

  const runFixture = async (path: string, study?: string): Promise<void> => {
    await page.selectOption('#fixture', path);
    await expect.poll(() => page.locator('#status').innerText()).toMatch(/loaded/);
    if (study) await page.selectOption('#study', study);
    await page.click('#run');
    await expect.poll(() => page.locator('#status').innerText(), { timeout: 15000 }).toMatch(/^Signed/);
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Built after listening, so the questionnaire canonical names this very port. Decision records
    // are kept: the form is the $questionnaire-package of the order-sign's coverage assertion.
    const recorded = await recordedApp(testConfig({ publicBaseUrl: origin }));
    records = recorded.records;
    server.on('request', recorded.app);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    // No CDN, no external network: anything not served by the app is refused and recorded.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(origin)) return route.continue();
      offOrigin.push(url);
      return route.abort();
    });
    await page.goto(`${origin}/playground/`);
    await page.locator('#fixture option[value$=".json"]').first().waitFor({ state: 'attached' });
  });

  afterAll(async () => {
    await browser?.close();
    await records?.close();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('runs a fixture to "criteria met": covered, prior authorization satisfied, the criterion cited', async () => {
    await runFixture(CAUDA);
    const text = await coverageText();
    expect(text).toContain('Covered');
    expect(text).toMatch(/Prior authorization satisfied \(PA-/);
    expect(text).toMatch(/criterion I\.B/);
    expect(text).toContain('(effective 2024-01-01)');
    const selectCards = page.locator('#cards-select article.card');
    expect(await selectCards.first().innerText()).toMatch(/Criteria met/);
    // order-sign repeats no card order-select showed for the same decision.
    expect(await page.locator('#cards-sign').innerText()).toMatch(/No new cards: the decision is the one order-select showed/);
    // Markdown detail rendered as HTML, not shown as asterisks.
    expect(await page.locator('#cards-select .detail strong').count()).toBeGreaterThan(0);
    // The patient banner, as EHRs show one: name, age at the date of service, sex.
    expect(await page.locator('#patient-banner').innerText()).toMatch(/^\S.* · \d+ y · (Female|Male|Other|Unknown)$/);
    expect(await page.locator('#questionnaire-panel').isHidden()).toBe(true);
    // The request and response JSON are shown.
    expect(await page.locator('#exchanges summary').allInnerTexts()).toEqual(
      expect.arrayContaining([expect.stringMatching(/POST \/cds-services\/lumbar-mri-order-sign → 200/)]),
    );
    await shot('1-criteria-met');
  });

  /** A boolean item of the LHC-Forms rendering, by linkId, and its Yes / No / Not Answered choice. */
  const item = (linkId: string) => page.locator(`#questionnaire lhc-item[id^="item-${linkId}/"]`);
  const choice = (linkId: string, value: boolean | null) => item(linkId).locator(`label[id$="|${String(value)}"]`);

  /**
   * The DTR loop in the browser: sign -> documentation missing -> the card's link opens the form
   * ($questionnaire-package for the coverage assertion, rendered by LHC-Forms) -> the missing items
   * answered yes in the rendered form -> signed again with its QuestionnaireResponse -> covered.
   */
  const documentationLoop = async (fixture: string, missing: readonly string[], name: string, docsPicture = false): Promise<void> => {
    await runFixture(fixture);
    expect(await coverageText()).toContain('Clinical documentation needed');
    const card = page.locator('#cards-select article.card.warning', { hasText: 'Documentation needed' }).first();
    expect(await card.count()).toBe(1);
    const link = card.locator('a', { hasText: 'Documentation questionnaire' });
    // Outside the playground the link opens the form page for this order, not the Questionnaire's JSON.
    expect(await link.getAttribute('href')).toMatch(/\/playground\/form\.html\?questionnaire=/);
    await page.evaluate(() => {
      const panel = document.getElementById('questionnaire-panel');
      if (panel) panel.hidden = true;
      document.getElementById('questionnaire')?.replaceChildren();
    });
    await link.click();
    await expect.poll(() => page.locator('#questionnaire-panel').isHidden()).toBe(false);
    await expect.poll(() => item(missing[0] as string).count(), { timeout: 20000 }).toBe(1);
    expect(page.url()).toBe(`${origin}/playground/`);
    // The card's items first, in the package's documentation-needed group, not answered yet.
    for (const linkId of missing) {
      expect(await page.locator(`#questionnaire lhc-item[id^="item-documentation-needed/"] lhc-item[id^="item-${linkId}/"]`).count(), linkId).toBe(1);
      await expect.poll(() => choice(linkId, null).getAttribute('class'), { message: linkId }).toContain('ant-radio-wrapper-checked');
    }
    expect((await page.locator('#exchanges summary').allInnerTexts()).some((t) => /POST \/fhir\/Questionnaire\/\$questionnaire-package → 200/.test(t))).toBe(true);
    await shot(`${name}-form`);
    if (docsPicture && process.env.PLAYGROUND_DOCS_SCREENSHOT) await page.screenshot({ path: join(ROOT, 'docs', 'playground.png') });
    for (const linkId of missing) await choice(linkId, true).click();
    await page.click('#resign');
    await expect.poll(coverageText, { timeout: 20000 }).toMatch(/Prior authorization satisfied/);
    // Signing again fires order-select then order-sign: the new decision shows at order-select.
    expect(await page.locator('#cards-select article.card').first().innerText()).toMatch(/Criteria met/);
    const sign = page.locator('#exchanges details', { hasText: 'POST /cds-services/lumbar-mri-order-sign' }).first();
    const sent = JSON.parse((await sign.locator('pre').first().textContent()) ?? '{}');
    const qr = sent.prefetch.questionnaireResponses.entry[0].resource;
    expect(qr).toMatchObject({ resourceType: 'QuestionnaireResponse', status: 'completed', subject: { reference: `Patient/${sent.context.patientId}` } });
    const answered = JSON.stringify(qr.item);
    for (const linkId of missing) expect(answered).toContain(`"linkId":"${linkId}","text"`);
    expect(answered).toContain('"valueCode":"manual"');
    // The answer came from the renderer: its context from the package's draft.
    expect(JSON.stringify(qr.extension)).toContain('qr-coverage');
    await shot(`${name}-approved`);
  };

  it('KP: documentation missing -> the rendered form -> the missing item answered -> covered', async () => {
    await documentationLoop(SURGEON_REQUEST_UNDOCUMENTED, ['surgeon-requests-preoperative-mri'], '2-kp');
  }, 60_000);

  it('MA: documentation missing -> the rendered form -> the missing items answered -> covered', async () => {
    await documentationLoop(FRACTURE_UNDOCUMENTED, ['surgery-under-consideration', 'surgical-candidate', 'specialist-determined-intervention'], '3-ma', true);
  }, 60_000);

  it('the form is pre-populated from the package\'s draft: a "no" opens the rest, with what the record already said', async () => {
    await runFixture(SURGEON_REQUEST_UNDOCUMENTED);
    const linkId = 'surgeon-requests-preoperative-mri';
    await expect.poll(() => item(linkId).count(), { timeout: 20000 }).toBe(1);
    // The rest of the form is behind enableWhen: hidden while the card's item is not answered no.
    expect(await item('surgical-candidate').count()).toBe(0);
    await choice(linkId, false).click();
    await expect.poll(() => item('surgical-candidate').count()).toBe(1);
    // The draft's answers (what the CRD call read from the record's Observations) are filled in.
    const exchange = page.locator('#exchanges details', { hasText: 'POST /fhir/Questionnaire/$questionnaire-package' }).first();
    const bundle = JSON.parse((await exchange.locator('pre').nth(1).textContent()) ?? '{}').parameter[0].resource;
    const draft = bundle.entry.at(-1).resource;
    expect(draft.resourceType).toBe('QuestionnaireResponse');
    const drafted: [string, boolean][] = draft.item.flatMap((g: { item: { linkId: string; answer: { valueBoolean: boolean }[] }[] }) => g.item.map((i) => [i.linkId, i.answer[0].valueBoolean]));
    expect(drafted).toEqual(expect.arrayContaining([['surgical-candidate', true], ['no-improvement-after-conservative-care', true]]));
    // Polled: the renderer marks the checked radio in a later change-detection pass than it adds the item.
    for (const [id, value] of drafted) await expect.poll(() => choice(id, value).getAttribute('class'), { message: id }).toContain('ant-radio-wrapper-checked');
    // Items the draft does not answer stay open.
    await expect.poll(() => choice('saddle-anesthesia', null).getAttribute('class')).toContain('ant-radio-wrapper-checked');
    await shot('4-kp-prepopulated');
  }, 60_000);

  it('the card\'s link opened outside the playground renders the form and gives the completed response', async () => {
    await runFixture(SURGEON_REQUEST_UNDOCUMENTED);
    const href = await page.locator('#cards-select a', { hasText: 'Documentation questionnaire' }).first().getAttribute('href');
    try {
      await page.goto(href ?? '');
      const linkId = 'surgeon-requests-preoperative-mri';
      await expect.poll(() => item(linkId).count(), { timeout: 20000 }).toBe(1);
      // The card was order-select's (order-sign repeats it not): no kept assertion, so the whole form.
      expect(await page.locator('#status').innerText()).toBe('The whole form (order-select keeps no coverage assertion).');
      await choice(linkId, true).click();
      await page.click('#complete');
      const qr = JSON.parse((await page.locator('#response').textContent()) ?? '{}');
      expect(qr).toMatchObject({ resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: expect.stringMatching(/\/fhir\/Questionnaire\/kp-wa-lumbar-mri-2024-01-01$/) });
      expect(JSON.stringify(qr.item)).toContain(`"linkId":"${linkId}"`);
      await shot('5-form-page');
    } finally {
      await page.goto(`${origin}/playground/`);
      await page.locator('#fixture option[value$=".json"]').first().waitFor({ state: 'attached' });
    }
  }, 60_000);

  it('applies an alternative-imaging suggestion to the draft order and sends feedback', async () => {
    await runFixture(CAUDA, '72149');
    expect(await page.locator('#drafts').innerText()).toContain('72149');
    const suggestion = page.locator('#cards-select button.suggestion', { hasText: 'without contrast (CPT 72148)' });
    expect(await suggestion.count()).toBe(1);
    await suggestion.click();
    await expect.poll(() => page.locator('#drafts').innerText()).toMatch(/^72148 /);
    expect(await page.inputValue('#study')).toBe('72148');
    expect(await coverageText()).toBe('The order changed: not signed yet.');
    await expect.poll(() => page.locator('#exchanges summary').first().innerText()).toMatch(/POST \/cds-services\/lumbar-mri-order-select\/feedback → 200/);
    await shot('6-suggestion-applied');
  });

  it('groups the fixture list by policy and expected outcome', async () => {
    const groups = await page.locator('#fixture optgroup').evaluateAll((gs) => gs.map((g) => g.getAttribute('label')));
    expect(groups).toEqual(expect.arrayContaining(['kp-wa-lumbar-mri: criteria met', 'kp-wa-lumbar-mri: documentation missing', 'kp-wa-lumbar-mri: not indicated']));
    expect(await page.locator('#fixture optgroup[label="kp-wa-lumbar-mri: criteria met"] option[value="' + CAUDA + '"]').count()).toBe(1);
  });

  it('a Medicare Advantage preset moves a date of service before the policy into it', async () => {
    await page.selectOption('#fixture', CAUDA);
    await expect.poll(() => page.locator('#status').innerText()).toMatch(/loaded/);
    await page.fill('#dos', '2024-06-12');
    await page.selectOption('#coverage', 'preset:medicare-advantage');
    expect(await page.inputValue('#dos')).toBe('2025-10-02');
  });

  it('made no request off the app and threw no page error', () => {
    expect(offOrigin).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
