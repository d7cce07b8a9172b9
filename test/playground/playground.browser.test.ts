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
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { launchChromium } from '../helpers/browser.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'playground');
const CAUDA = 'kp-wa-lumbar-mri/I.B-cauda-equina-saddle-numbness-urinary-retention.json';
const FRACTURE_UNDOCUMENTED = 'medicare-advantage-lumbar-mri/IND.2-known-fracture-surgery-undocumented.json';

describe('playground in the browser', () => {
  let server: Server;
  let origin: string;
  let browser: Browser;
  let page: Page;
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
    // Built after listening, so the questionnaire canonical names this very port.
    const { app } = createApp(testConfig({ publicBaseUrl: origin }));
    server.on('request', app);
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

  it('runs one to "documentation missing", answers the questionnaire and sees it approved', async () => {
    await runFixture(FRACTURE_UNDOCUMENTED);
    const text = await coverageText();
    expect(text).toContain('Prior authorization needed');
    expect(text).toContain('Clinical documentation needed');
    expect(await page.locator('#cards-select article.card.warning').first().innerText()).toMatch(/Documentation needed/);
    const item = page.locator('fieldset[data-link-id="surgery-under-consideration"]');
    await expect.poll(() => item.count(), { timeout: 10000 }).toBe(1);
    // The card's item first; the rest of the questionnaire folded below it.
    expect(await page.locator('#questionnaire fieldset.q-asked fieldset[data-link-id="surgery-under-consideration"]').count()).toBe(1);
    expect(await page.locator('#questionnaire details.q-rest').getAttribute('open')).toBeNull();
    expect(await page.locator('#questionnaire details.q-rest summary').innerText()).toMatch(/^The rest of the questionnaire \(\d+ items\)$/);
    await shot('2-documentation-missing');
    if (process.env.PLAYGROUND_DOCS_SCREENSHOT) await page.screenshot({ path: join(ROOT, 'docs', 'playground.png') });
    // Keyboard: the answer is reachable and set without a mouse.
    await item.locator('input[value="true"]').focus();
    await page.keyboard.press('Space');
    expect(await item.locator('input[value="true"]').isChecked()).toBe(true);
    await page.click('#resign');
    await expect.poll(coverageText, { timeout: 15000 }).toMatch(/Prior authorization satisfied/);
    // Signing again fires order-select then order-sign: the new decision shows at order-select.
    expect(await page.locator('#cards-select article.card').first().innerText()).toMatch(/Criteria met/);
    const resign = (await page.locator('#exchanges details').first().locator('pre').first().textContent()) ?? '';
    expect(JSON.parse(resign).prefetch.questionnaireResponses.entry[0].resource).toMatchObject({
      resourceType: 'QuestionnaireResponse',
      status: 'completed',
    });
    await shot('3-documentation-answered-approved');
  });

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
    await shot('4-suggestion-applied');
  });

  it('groups the fixture list by policy and expected outcome; the card\'s questionnaire link opens the form', async () => {
    const groups = await page.locator('#fixture optgroup').evaluateAll((gs) => gs.map((g) => g.getAttribute('label')));
    expect(groups).toEqual(expect.arrayContaining(['kp-wa-lumbar-mri: criteria met', 'kp-wa-lumbar-mri: documentation missing', 'kp-wa-lumbar-mri: not indicated']));
    expect(await page.locator('#fixture optgroup[label="kp-wa-lumbar-mri: criteria met"] option[value="' + CAUDA + '"]').count()).toBe(1);
    await runFixture(FRACTURE_UNDOCUMENTED);
    await page.evaluate(() => {
      const panel = document.getElementById('questionnaire-panel');
      if (panel) panel.hidden = true;
    });
    const link = page.locator('#cards-select a', { hasText: 'Documentation questionnaire' }).first();
    await link.click();
    await expect.poll(() => page.locator('#questionnaire-panel').isHidden()).toBe(false);
    expect(await page.locator('#questionnaire fieldset').count()).toBeGreaterThan(0);
    expect(page.url()).toBe(`${origin}/playground/`);
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
