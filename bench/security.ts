/**
 * `npx tsx bench/security.ts`: the figures of issue 18 items 2-5, measured on loopback against the
 * service in its own process (`node --import tsx src/server.ts`), about two minutes:
 *
 * 1. overload: capacity with 10 connections, then twice that rate from 200 connections, with load
 *    shedding on (the defaults) and off: answers 200, shed 503s, timeouts, p99;
 * 2. a hostile allow-listed FHIR server (in this process): the hook's duration against its 3 s
 *    deadline for each hostile reply, the latency of an unrelated call meanwhile, the service's RSS;
 * 3. failed authentication from one address for 5 s: 401s, 429s and warning-log bytes, throttled
 *    (the default 60 a minute) and not.
 *
 * `npx tsx bench/security.ts overload fhir auth` runs only the sections named.
 * Writes bench/results/security.json. The machine may be shared: read the figures as orders of size.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { startFaultServer, type FaultServerOptions } from '../tools/fhir-server/faults.js';
import { SERVICE_IDS } from '../src/hooks/discovery.js';
import { exportJWK, generateKeyPair } from 'jose';

const ISS = 'https://bench-ehr.example.org/cds-client';
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

const ROOT = join(import.meta.dirname, '..');
const PATH = `/cds-services/${SERVICE_IDS['order-sign']}`;
const CAUDA = readFileSync(join(ROOT, 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json'), 'utf8');

interface Service {
  readonly child: ChildProcess;
  readonly url: string;
  logBytes: number;
  stop(): Promise<void>;
}

let nextPort = 3300 + Math.floor(Math.random() * 500);

async function startService(env: Record<string, string>): Promise<Service> {
  const port = nextPort++;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', RECORD_DATA_DIR: 'memory://', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const service: Service = {
    child,
    url: `http://127.0.0.1:${port}`,
    logBytes: 0,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    service.logBytes += chunk.length;
  });
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${service.url}/health`)).status < 500) return service;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the service did not start');
}

function cannon(url: string, options: Partial<autocannon.Options>): Promise<autocannon.Result> {
  return autocannon({ url: `${url}${PATH}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: CAUDA, ...options });
}

const peakRssMb = (pid: number): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function overload(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, env] of [
    ['shedding on (defaults)', {}],
    ['shedding off', { MAX_IN_FLIGHT: '0', MAX_EVENT_LOOP_DELAY_MS: '0' }],
  ] as const) {
    const service = await startService({ ...env, RATE_LIMIT_PER_MINUTE: '0' });
    await cannon(service.url, { connections: 10, duration: 3 }); // warm-up
    const capacity = await cannon(service.url, { connections: 10, duration: 5 });
    const rate = Math.round(capacity.requests.average * 2);
    const load = await cannon(service.url, { connections: 200, duration: 10, overallRate: rate, timeout: 10 });
    out[name] = {
      capacityPerSec: Math.round(capacity.requests.average),
      offeredPerSec: rate,
      answered200: load['2xx'],
      shed503: load.non2xx,
      timeouts: load.timeouts,
      errors: load.errors,
      p50Ms: load.latency.p50,
      p99Ms: load.latency.p99,
      maxMs: load.latency.max,
    };
    console.log(name, out[name]);
    await service.stop();
  }
  return out;
}

async function hostileFhir(): Promise<Record<string, unknown>> {
  const hostile = await startFaultServer({ mode: 'ok' });
  const service = await startService({ FHIR_SERVER_ALLOWLIST: hostile.baseUrl });
  const origin = new URL(hostile.baseUrl).origin;
  const patientId = (JSON.parse(CAUDA) as { context: { patientId: string } }).context.patientId;
  const modes: [string, Partial<FaultServerOptions>][] = [
    ['15.5 MB pages, endless', { mode: 'hugeBundle', hugeBundleBytes: 15.5 * 1024 * 1024, hugeBundleNext: true }],
    ['slow drip (a byte every 50 ms)', { mode: 'slowDrip', dripMs: 50 }],
    ['brotli bomb (1 GiB of whitespace)', { mode: 'compressionBomb', bombEncoding: 'br', bombBytes: 1024 * 1024 * 1024 }],
    ['gzip bomb (1 GiB of whitespace)', { mode: 'compressionBomb', bombEncoding: 'gzip', bombBytes: 1024 * 1024 * 1024 }],
    ['next link to another path', { mode: 'ok', body: { resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'next', url: `${origin}/admin/export?patient=${patientId}` }], entry: [] } }],
    ['endless paging', { mode: 'endlessPages' }],
  ];
  const hook = JSON.stringify({ ...JSON.parse(CAUDA), prefetch: {}, fhirServer: hostile.baseUrl, fhirAuthorization: { access_token: 'bench-token', token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'bench' } });
  const post = async (body: string): Promise<{ status: number; ms: number; text: string }> => {
    const started = performance.now();
    const res = await fetch(`${service.url}${PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    return { status: res.status, ms: Math.round(performance.now() - started), text };
  };
  const out: Record<string, unknown> = {};
  for (const [name, options] of modes) {
    hostile.configure({ delayMs: 0, ...options });
    if (options.mode === 'compressionBomb') await fetch(`${hostile.baseUrl}/warm-up`).then((r) => r.body?.cancel()).catch(() => undefined);
    const before = hostile.requests.length;
    const attacked = post(hook);
    await new Promise((r) => setTimeout(r, 200));
    const unrelated = await post(CAUDA);
    const res = await attacked;
    out[name] = {
      status: res.status,
      hookMs: res.ms,
      deadlineMs: 3000,
      unrelatedStatus: unrelated.status,
      unrelatedMs: unrelated.ms,
      fhirCalls: hostile.requests.length - before,
      requestsOffBase: hostile.requests.slice(before).filter((r) => !r.path.startsWith('/fhir/')).length,
      serviceRssPeakMb: Math.round(peakRssMb(service.child.pid as number)),
    };
    console.log(name, out[name]);
  }
  await service.stop();
  await hostile.close();
  return out;
}

async function authFailures(): Promise<Record<string, unknown>> {
  const { publicKey } = await generateKeyPair('ES384');
  const kid = 'bench-key';
  const clients = join(ROOT, 'bench', '.generated-trusted-clients.json');
  writeFileSync(clients, JSON.stringify([{ iss: ISS, jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384' }] }, fhir_servers: [] }]));
  const out: Record<string, unknown> = {};
  for (const [name, perMinute] of [
    ['throttled (60 a minute)', '60'],
    ['not throttled', '0'],
  ] as const) {
    const service = await startService({ CDS_AUTH: 'required', CDS_TRUSTED_CLIENTS: clients, AUTH_FAILURES_PER_MINUTE: perMinute, LOG_LEVEL: 'info', RATE_LIMIT_PER_MINUTE: '0', PUBLIC_BASE_URL: 'http://127.0.0.1' });
    const before = service.logBytes;
    // A well-formed token for a trusted iss with a signature that does not verify.
    const now = Math.floor(Date.now() / 1000);
    const forged = `${b64({ alg: 'ES384', typ: 'JWT', kid })}.${b64({ iss: ISS, aud: `http://127.0.0.1${PATH}`, iat: now, exp: now + 300, jti: 'bench' })}.c2lnbmF0dXJl`;
    const r = await cannon(service.url, { connections: 20, duration: 5, headers: { 'content-type': 'application/json', authorization: `Bearer ${forged}` } });
    const statuses = r.statusCodeStats as unknown as Record<string, { count: number }>;
    out[name] = {
      callsPerSec: Math.round(r.requests.average),
      answered401: statuses['401']?.count ?? 0,
      answered429: statuses['429']?.count ?? 0,
      warningLogKb: Math.round((service.logBytes - before) / 1024),
    };
    console.log(name, out[name]);
    await service.stop();
  }
  return out;
}

const only = process.argv.slice(2);
const want = (name: string): boolean => only.length === 0 || only.includes(name);
const results = {
  measuredAt: new Date().toISOString(),
  ...(want('overload') ? { overload: await overload() } : {}),
  ...(want('fhir') ? { hostileFhir: await hostileFhir() } : {}),
  ...(want('auth') ? { authFailures: await authFailures() } : {}),
};
const file = join(ROOT, 'bench', 'results', 'security.json');
// Sections not run this time keep their last figures.
const previous: unknown = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
writeFileSync(file, `${JSON.stringify({ ...(previous && typeof previous === 'object' ? previous : {}), ...results }, null, 2)}\n`);
process.exit(0);
