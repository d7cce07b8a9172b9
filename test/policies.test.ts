/**
 * Runs every policy's case table (`cds-services/<policy>/<version>/cases.json`) through the HTTP API:
 * each row names a fixture, the outcome an EHR must see, and the criterion cited.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/http/app.js';
import { testConfig } from '../src/config/config.js';
import { versionFolders } from '../src/library/loadPolicy.js';
import { observedDecision, type ObservedOutcome } from './support/outcome.js';
import { fixturePath } from './helpers/fixtures.js';

interface Case {
  readonly fixture: string;
  readonly outcome: ObservedOutcome;
  readonly criterion?: string;
  /** Facts the documentation card must ask for (by the words of the fact catalogue's `ask`), optional. */
  readonly missing?: readonly string[];
  /** A suggestion label fragment that must be offered, optional. */
  readonly suggests?: readonly string[];
  /** Suggestion label fragments that must not be offered (unsafe for this patient), optional. */
  readonly notSuggests?: readonly string[];
  /** Words the cards must not say (a path this patient cannot reach, a criterion that did not fail), optional. */
  readonly absent?: readonly string[];
  readonly note?: string;
}

const ROOT = join(import.meta.dirname, '..');
const { app } = createApp(testConfig());

const caseFiles: { policy: string; version: string; file: string }[] = [];
for (const { policyId, version, dir } of versionFolders(join(ROOT, 'cds-services'))) {
  // cases.json, and further tables such as cases.record.json (how facts are read from the record).
  for (const f of readdirSync(dir).filter((x) => /^cases(\.[a-z-]+)?\.json$/.test(x)).sort()) {
    caseFiles.push({ policy: policyId, version: f === 'cases.json' ? version : `${version} ${f}`, file: join(dir, f) });
  }
}

describe('policy case tables', () => {
  it('has case tables', () => {
    expect(caseFiles.length).toBeGreaterThan(0);
  });
  for (const { policy, version, file } of caseFiles) {
    const cases = JSON.parse(readFileSync(file, 'utf8')) as Case[];
    describe(`${policy} ${version}`, () => {
      for (const c of cases) {
        it(`${c.fixture} -> ${c.outcome}${c.criterion ? ` (${c.criterion})` : ''}`, async () => {
          const body = JSON.parse(readFileSync(fixturePath(c.fixture), 'utf8'));
          const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(body);
          expect(res.status).toBe(200);
          const seen = observedDecision(res.body);
          expect({ outcome: seen.outcome, criterion: c.criterion ? seen.criterion : undefined }).toEqual({
            outcome: c.outcome,
            criterion: c.criterion,
          });
          const text = JSON.stringify(res.body.cards);
          for (const m of c.missing ?? []) expect(text).toContain(m);
          const labels = (res.body.cards as { suggestions?: { label: string }[] }[]).flatMap((card) => card.suggestions ?? []).map((s) => s.label).join(' | ');
          for (const s of c.suggests ?? []) expect(labels).toContain(s);
          for (const s of c.notSuggests ?? []) expect(labels).not.toContain(s);
          for (const a of c.absent ?? []) expect(text).not.toContain(a);
        });
      }
    });
  }
});
