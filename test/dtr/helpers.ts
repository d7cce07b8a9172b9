/** Shared by the DTR tests: a service with decision records, fixtures, and package requests. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Coverage, Parameters } from 'fhir/r4.js';
import { createApp } from '../../src/http/app.js';
import { testConfig, type Config } from '../../src/config/config.js';
import { setupDecisionRecords } from '../../src/records/setup.js';
import { captureLogger } from '../helpers/logs.js';
import { fixturePath } from '../helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');

export interface HookBody {
  hookInstance: string;
  context: { patientId: string; draftOrders: Bundle };
  prefetch: Record<string, Bundle | undefined>;
}

export const loadFixture = (name: string): HookBody => JSON.parse(readFileSync(fixturePath(name), 'utf8')) as HookBody;

/** The fixture's Coverage, as the EHR sends it to the payer. */
export function coverageOf(body: HookBody): Coverage {
  const found = Object.values(body.prefetch)
    .flatMap((b) => b?.entry ?? [])
    .map((e) => e.resource)
    .find((r): r is Coverage => r?.resourceType === 'Coverage');
  if (!found) throw new Error('fixture without Coverage');
  return found;
}

export async function dtrApp(overrides: Partial<Config> = {}) {
  const config = testConfig(overrides);
  const { logger, lines } = captureLogger('warn');
  const records = await setupDecisionRecords(config, logger);
  const { app } = createApp(config, { records: records.store, recorder: records.recorder, logger });
  return { app, records, lines };
}

export function packageRequest(coverage: Coverage, context?: string, extra: Parameters['parameter'] = [], profile?: string): Parameters {
  return {
    resourceType: 'Parameters',
    ...(profile ? { meta: { profile: [profile] } } : {}),
    parameter: [{ name: 'coverage', resource: coverage }, ...(context ? [{ name: 'context', valueString: context }] : []), ...extra],
  };
}

