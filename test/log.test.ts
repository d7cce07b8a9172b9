/**
 * Every fixture through the service, authenticated, with an EHR access token and a FHIR server to
 * fall back to, logging at debug into memory: no patient name, identifier, birth date or token may
 * appear in the logs (src/log.ts: ids and outcomes only).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Bundle, Patient, Resource } from 'fhir/r4.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/http/app.js';
import { testConfig } from '../src/config/config.js';
import { startFaultServer, type FaultServer } from '../tools/fhir-server/faults.js';
import { createLogger } from '../src/log.js';
import { createClientAuth } from '../src/security/setup.js';
import { FIXTURE_FOLDERS } from './helpers/fixtures.js';
import { bearer, generateTestKey, jwksOf, signClientToken, TEST_ISS, type TestKey } from './helpers/tokens.js';

const BASE = 'http://127.0.0.1:3000';

interface HookFixture {
  readonly name: string;
  readonly body: { hook: string; prefetch?: Record<string, Resource | null> } & Record<string, unknown>;
}

function hookFixtures(dir: string, prefix = ''): HookFixture[] {
  const out: HookFixture[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...hookFixtures(join(dir, entry.name), `${prefix}${entry.name}/`));
    else if (entry.name.endsWith('.json')) {
      const body = JSON.parse(readFileSync(join(dir, entry.name), 'utf8'));
      if (typeof body?.hook === 'string') out.push({ name: `${prefix}${entry.name}`, body });
    }
  }
  return out;
}

/** The identifying values of the fixture's patients: what must never be logged. */
function secretsOf(body: HookFixture['body']): string[] {
  const patients: Patient[] = [];
  for (const v of Object.values(body.prefetch ?? {})) {
    if (!v) continue;
    if (v.resourceType === 'Patient') patients.push(v as Patient);
    if (v.resourceType === 'Bundle') for (const e of (v as Bundle).entry ?? []) if (e.resource?.resourceType === 'Patient') patients.push(e.resource as Patient);
  }
  return patients.flatMap((p) => [
    ...(p.name ?? []).flatMap((n) => [n.family, ...(n.given ?? []), n.text]),
    ...(p.identifier ?? []).map((i) => i.value),
    p.birthDate,
  ]).filter((s): s is string => typeof s === 'string' && s.length >= 3);
}

describe('logs carry no patient identity and no tokens', () => {
  const fixtures = FIXTURE_FOLDERS.flatMap((f) => hookFixtures(f.dir, `${f.name}/`));
  const lines: string[] = [];
  let key: TestKey;
  let fhir: FaultServer;
  let app: Awaited<ReturnType<typeof createApp>>['app'];

  beforeAll(async () => {
    key = await generateTestKey('ES384');
    fhir = await startFaultServer({ mode: 'ok' });
    const file = join(mkdtempSync(join(tmpdir(), 'clients-')), 'trusted-clients.json');
    writeFileSync(file, JSON.stringify([{ iss: TEST_ISS, jwks: jwksOf(key), fhir_servers: [fhir.baseUrl] }]));
    const config = testConfig({ auth: 'required', trustedClientsFile: file, publicBaseUrl: BASE, rateLimitPerMinute: 0, logLevel: 'debug' });
    // The service's own logger (its redaction rules), writing into memory.
    const logger = createLogger('debug', new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(chunk.toString()), cb()) }));
    app = createApp(config, { logger, clientAuth: await createClientAuth(config, logger) }).app;
  });
  afterAll(async () => {
    await fhir.close();
  });

  it('has fixtures with patients to check', () => {
    expect(fixtures.length).toBeGreaterThan(10);
    expect(fixtures.filter((f) => secretsOf(f.body).length > 0).length).toBeGreaterThan(10);
  });

  it('for every fixture, on success and on failure', async () => {
    const secrets = new Set<string>();
    for (const [i, { name, body }] of fixtures.entries()) {
      for (const s of secretsOf(body)) secrets.add(s);
      const path = `/cds-services/lumbar-mri-${body.hook}`;
      const accessToken = `ehr-access-${i}-${'q'.repeat(24)}`;
      const jwt = await signClientToken(key, { aud: `${BASE}${path}` });
      secrets.add(accessToken).add(jwt).add(jwt.split('.')[2] as string);
      // Every third request leaves its conditions to the FHIR server, so the fetch path logs too.
      const prefetch = i % 3 === 0 && body.prefetch ? Object.fromEntries(Object.entries(body.prefetch).filter(([k]) => k !== 'conditions')) : body.prefetch;
      const sent = { ...body, prefetch, fhirServer: fhir.baseUrl, fhirAuthorization: { access_token: accessToken, token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'lumbar-mri-cds' } };
      const res = await request(app).post(path).set('Authorization', bearer(jwt)).send(sent);
      expect(res.status, name).toBe(200);
      // A failed authentication with a real-looking token, and a rejected body, log too.
      const replay = await request(app).post(path).set('Authorization', bearer(jwt)).send(sent);
      expect(replay.status).toBe(401);
    }
    expect(fhir.requests.some((r) => r.authorization?.startsWith('Bearer ehr-access-'))).toBe(true);
    const log = lines.join('');
    expect(log).toMatch(/"msg":"hook"/);
    expect(log).toMatch(/client-auth-failed/);
    const leaked = [...secrets].filter((s) => log.includes(s));
    expect(leaked).toEqual([]);
    // Hundreds of fixtures, two requests each: a correctness check, not a speed target (the machine may be shared).
  }, 180_000);
});
