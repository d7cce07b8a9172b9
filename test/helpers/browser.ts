/**
 * Headless Chromium for the browser tests, from the npm package @sparticuz/chromium (a Chromium
 * build shipped inside the package, unpacked on first use), driven by playwright-core: nothing is
 * installed by hand or by apt.
 */
import sparticuzChromium from '@sparticuz/chromium';
import { chromium, type Browser } from 'playwright-core';

const EXTRA_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchChromium(): Promise<Browser> {
  const executablePath = await sparticuzChromium.executablePath();
  return chromium.launch({ executablePath, args: [...sparticuzChromium.args, ...EXTRA_ARGS] });
}
