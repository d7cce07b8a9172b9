/**
 * Docker is not available where the tests run, so the compose file and the Dockerfile are kept
 * honest by reading them: every variable they set is one the service reads, every file they mount
 * exists, and the stack's own client can call the service through its own FHIR server.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createApp } from '../../src/http/app.js';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/config.js';
import { referencesOf } from '../../tools/fhir-server/references.js';
import { SERVICE_IDS } from '../../src/hooks/discovery.js';
import { createClientAuth } from '../../src/security/setup.js';
import { loadTrustedClients } from '../../src/security/trustedClients.js';
import { captureIO } from '../cli/io.js';

interface ComposeService {
  build?: unknown;
  image?: string;
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  command?: string[];
  profiles?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const services = compose.services;
const ours = Object.entries(services).filter(([, s]) => s.build !== undefined);
const cdsServices = ours.filter(([name]) => name !== 'fhir-loader');
const configSource = readFileSync('src/config/config.ts', 'utf8');
/** The environment as compose interpolates it with nothing set by the caller (`${VAR:-default}` gives the default). */
const interpolate = (v: string): string => v.replace(/\$\{(\w+):-([^}]*)\}/g, (_m, _name: string, fallback: string) => fallback);
const envOf = (name: string): Record<string, string> =>
  Object.fromEntries(Object.entries(services[name].environment ?? {}).map(([k, v]) => [k, interpolate(v)]));

describe('docker-compose.yml', () => {
  it('has the service, HAPI FHIR, the fixture loader, and the two-instances profile with PostgreSQL, Redis and a load balancer', () => {
    expect(Object.keys(services).sort()).toEqual(['cds', 'cds-a', 'cds-b', 'fhir-loader', 'hapi', 'lb', 'postgres', 'redis']);
    expect(services.cds.ports).toContain('3000:3000');
    for (const name of ['cds-a', 'cds-b', 'lb', 'postgres', 'redis']) expect(services[name].profiles).toEqual(['two-instances']);
    expect(services.cds.profiles).toBeUndefined();
  });

  it('pins every image to a version (no latest, no bare major) and the Dockerfile\'s base images too', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build !== undefined) continue; // built here from the Dockerfile
      expect(s.image, name).toMatch(/^[\w./-]+:v?\d+\.\d+(\.\d+)?(-[\w.]+)?$/);
    }
    expect(services.hapi.image).toBe('hapiproject/hapi:v7.0.0');
    const bases = [...readFileSync('Dockerfile', 'utf8').matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(bases.length).toBeGreaterThan(0);
    for (const b of bases) expect(b).toMatch(/^node:\d+\.\d+\.\d+-slim$/);
  });

  it('binds HAPI (no authentication) to loopback only', () => {
    expect(services.hapi.ports).toEqual(['127.0.0.1:8080:8080']);
  });

  it('sets an operator ADMIN_TOKEN of 32 characters or more on every instance, overridable from the environment', () => {
    for (const [name, s] of cdsServices) {
      expect(s.environment?.ADMIN_TOKEN, name).toMatch(/^\$\{ADMIN_TOKEN:-.{32,}\}$/);
      expect(loadConfig(envOf(name)).adminToken?.length).toBeGreaterThanOrEqual(32);
    }
  });

  it('puts the two instances behind one load balancer, whose URL is both instances\' public base (the same aud whichever answers)', () => {
    expect(services['cds-a'].ports).toBeUndefined();
    expect(services['cds-b'].ports).toBeUndefined();
    const [published] = services.lb.ports ?? [];
    const port = published?.split(':').at(-1);
    const base = `http://localhost:${port}`;
    expect(loadConfig(envOf('cds-a')).publicBaseUrl).toBe(base);
    expect(loadConfig(envOf('cds-b')).publicBaseUrl).toBe(base);
    const mount = (services.lb.volumes ?? []).find((v) => v.endsWith(':/etc/nginx/conf.d/default.conf:ro'));
    expect(mount).toBeDefined();
    const conf = readFileSync(mount!.split(':')[0]!, 'utf8');
    expect(conf).toMatch(new RegExp(`listen ${port};`));
    expect(conf).toMatch(/server cds-a:3000;/);
    expect(conf).toMatch(/server cds-b:3000;/);
    expect(conf).toMatch(/proxy_set_header Host \$http_host;/);
  });

  it('sets only environment variables the service reads (src/config/config.ts)', () => {
    expect(cdsServices.length).toBe(3);
    for (const [name, s] of cdsServices) {
      for (const key of Object.keys(s.environment ?? {})) {
        expect({ name, key, read: new RegExp(`env\\.${key}\\b|env\\[['"]${key}['"]\\]|'${key}'`).test(configSource) }).toEqual({ name, key, read: true });
      }
      // And the values are ones the config accepts.
      expect(() => loadConfig(s.environment)).not.toThrow();
    }
  });

  it('requires client authentication with a mounted trusted-clients file that exists', () => {
    for (const [name] of cdsServices) {
      const env = envOf(name);
      expect(env.CDS_AUTH).toBe('required');
      const mount = (services[name].volumes ?? []).find((v) => v.split(':')[1] === env.CDS_TRUSTED_CLIENTS);
      expect(mount, `${name} mounts ${env.CDS_TRUSTED_CLIENTS}`).toBeDefined();
    }
  });

  it('mounts only files and folders that exist in the repository', () => {
    for (const [, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const host = v.split(':')[0];
        if (host.startsWith('.') || host.startsWith('/')) expect(existsSync(resolve(host)), v).toBe(true);
      }
    }
  });

  it('points the FHIR allow-list and the trusted client\'s fhir_servers at the HAPI service', async () => {
    const hapi = `http://hapi:${services.hapi.ports![0].split(':')[1]}/fhir`;
    const clients = await loadTrustedClients('docker/trusted-clients.json');
    expect(clients.flatMap((c) => c.fhirServers)).toContain(hapi);
    for (const [name] of cdsServices) expect(loadConfig(envOf(name)).fhirServerAllowlist).toEqual([hapi]);
    expect(services['fhir-loader'].command).toEqual(expect.arrayContaining(['upload', '--fhir-server', hapi, 'fixtures']));
  });

  it('gives the two instances one PostgreSQL and one Redis, by service name', () => {
    for (const name of ['cds-a', 'cds-b']) {
      const config = loadConfig(envOf(name));
      expect(new URL(config.databaseUrl!).host).toBe('postgres:5432');
      expect(new URL(config.redisUrl!).host).toBe('redis:6379');
      expect(Object.keys(services[name].depends_on ?? {}).sort()).toEqual(['postgres', 'redis']);
    }
    expect(envOf('cds-a').DATABASE_URL).toBe(envOf('cds-b').DATABASE_URL);
    const pg = services.postgres.environment!;
    expect(envOf('cds-a').DATABASE_URL).toBe(`postgres://${pg.POSTGRES_USER}:${pg.POSTGRES_PASSWORD}@postgres:5432/${pg.POSTGRES_DB}`);
  });

  it('checks health on /health for every service that has one to check', () => {
    for (const [name] of cdsServices) expect(services[name].healthcheck?.test.join(' ')).toContain('/health');
    expect(services.postgres.healthcheck?.test.join(' ')).toContain('pg_isready');
    expect(services.redis.healthcheck?.test.join(' ')).toContain('ping');
  });

  it('its client, with a token the CLI signs with the stack\'s dev key, is accepted (and an unsigned call is not)', async () => {
    const env = envOf('cds');
    const config = loadConfig({ ...env, CDS_TRUSTED_CLIENTS: 'docker/trusted-clients.json', LOG_LEVEL: 'silent' });
    const clientAuth = await createClientAuth(config, { warn: () => undefined });
    const { app } = createApp(config, { clientAuth });
    const [client] = await loadTrustedClients('docker/trusted-clients.json');
    const aud = `${config.publicBaseUrl}/cds-services/${SERVICE_IDS['order-sign']}`;
    const io = captureIO();
    expect(await main(['token', '--key', 'docker/dev-client-key.json', '--iss', client.iss, '--aud', aud], io)).toBe(0);
    const token = io.stdout().trim();
    const body = JSON.parse(readFileSync('fixtures/synthea-requests/synthea-vertebral-fracture-ma.json', 'utf8')) as Record<string, unknown>;
    const unsigned = await request(app).post(`/cds-services/${SERVICE_IDS['order-sign']}`).send(body);
    expect(unsigned.status).toBe(401);
    const signed = await request(app).post(`/cds-services/${SERVICE_IDS['order-sign']}`).set('authorization', `Bearer ${token}`).send(body);
    expect(signed.status).toBe(200);
    expect(signed.body.systemActions).toHaveLength(1);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  it('builds on a pinned node:20 slim image with npm ci and the build, and runs the compiled server as a non-root user', () => {
    expect(dockerfile).toMatch(/^FROM node:20\.\d+\.\d+-slim AS build$/m);
    expect(dockerfile).toMatch(/^RUN npm ci$/m);
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/src\/server\.js"\]$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/health/m);
    // Every COPY source exists.
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) for (const src of m[1].split(' ')) expect(existsSync(src), src).toBe(true);
  });

  it('requires client authentication and ships what the build and the playground need', () => {
    expect(dockerfile).toMatch(/^ENV CDS_AUTH=required$/m);
    // `npm run build` also bundles the playground: its sources and script are in the build stage.
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.build).toContain('build:playground');
    expect(dockerfile).toMatch(/^COPY scripts\/build-playground\.ts /m);
    expect(dockerfile).toMatch(/^COPY playground\/src /m);
    expect(dockerfile).toMatch(/^COPY --from=build \/app\/playground\/dist \.\/playground\/dist$/m);
    expect(dockerfile).toMatch(/^COPY fixtures \.\/fixtures$/m);
  });

  it('the compiled build includes the CLI the loader runs', () => {
    const build = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as { include: string[] };
    expect(build.include).toContain('src/**/*.ts');
    expect(existsSync('src/cli/main.ts')).toBe(true);
    expect(readFileSync('bin/lumbar-mri-cds.js', 'utf8')).toContain('dist/src/cli/main.js');
  });
});

/**
 * The fixture loader as compose runs it, against a FHIR server that refuses dangling references as
 * HAPI does by default: each transaction may reference only what it holds or what is already stored.
 */
describe('the fhir-loader', () => {
  let strict: Server;
  let base: string;
  const stored = new Set<string>();
  const refused: { file: number; missing: string[] }[] = [];
  let transactions = 0;

  const bodyOf = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };

  beforeAll(async () => {
    strict = createServer((req, res) => {
      if (req.method === 'GET' && req.url?.endsWith('/metadata')) {
        res.writeHead(200, { 'content-type': 'application/fhir+json' }).end('{"resourceType":"CapabilityStatement"}');
        return;
      }
      void bodyOf(req).then((text) => {
        const bundle = JSON.parse(text) as { entry: { resource: { resourceType: string; id: string }; request: { method: string; url: string } }[] };
        transactions += 1;
        const inBundle = new Set(bundle.entry.map((e) => `${e.resource.resourceType}/${e.resource.id}`));
        const missing = [...new Set(bundle.entry.flatMap((e) => referencesOf(e.resource)))].filter((r) => !inBundle.has(r) && !stored.has(r));
        if (missing.length > 0) {
          refused.push({ file: transactions, missing });
          res.writeHead(400, { 'content-type': 'application/fhir+json' }).end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: `Resource ${missing[0]} not found` }] }));
          return;
        }
        for (const r of inBundle) stored.add(r);
        res.writeHead(200, { 'content-type': 'application/fhir+json' }).end('{"resourceType":"Bundle","type":"transaction-response"}');
      });
    });
    await new Promise<void>((done) => strict.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(strict.address() as AddressInfo).port}/fhir`;
  });

  afterAll(async () => {
    strict.closeAllConnections();
    await new Promise<void>((done) => strict.close(() => done()));
  });

  it('sends only self-consistent data: every reference resolves, the clinicians the fixtures name included', async () => {
    const command = services['fhir-loader'].command ?? [];
    const args = command.slice(2).map((a) => (a.startsWith('http://hapi:') ? base : a)).map((a, i, all) => (all[i - 1] === '--wait' ? '0' : a));
    expect(args).toEqual(['upload', '--fhir-server', base, '--wait', '0', 'fixtures', 'cds-services/kp-wa-lumbar-mri/fixtures', 'cds-services/medicare-advantage-lumbar-mri/fixtures']);
    const io = captureIO();
    const code = await main(args, io);
    expect(refused).toEqual([]);
    expect(io.stderrText()).toBe('');
    expect(code).toBe(0);
    expect(transactions).toBeGreaterThan(280);
    // The ordering clinicians (PractitionerRole.practitioner) are stored, so HAPI accepts the roles.
    expect([...stored].filter((r) => r.startsWith('Practitioner/')).length).toBeGreaterThan(100);
  }, 180_000);
});
