/**
 * Docker is not available where the tests run, so the compose file and the Dockerfile are kept
 * honest by reading them: every variable they set is one the service reads, every file they mount
 * exists, and the stack's own client can call the service through its own FHIR server.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createApp } from '../../src/app.js';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/config.js';
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
const envOf = (name: string): Record<string, string> => services[name].environment ?? {};

describe('docker-compose.yml', () => {
  it('has the service, HAPI FHIR, the fixture loader, and the two-instances profile with PostgreSQL and Redis', () => {
    expect(Object.keys(services).sort()).toEqual(['cds', 'cds-a', 'cds-b', 'fhir-loader', 'hapi', 'postgres', 'redis']);
    expect(services.hapi.image).toBe('hapiproject/hapi:latest');
    expect(services.hapi.ports).toContain('8080:8080');
    expect(services.cds.ports).toContain('3000:3000');
    expect(services.postgres.image).toBe('postgres:16');
    expect(services.redis.image).toBe('redis:7');
    for (const name of ['cds-a', 'cds-b', 'postgres', 'redis']) expect(services[name].profiles).toEqual(['two-instances']);
    expect(services.cds.profiles).toBeUndefined();
    expect(services['cds-a'].ports).toEqual(['3001:3000']);
    expect(services['cds-b'].ports).toEqual(['3002:3000']);
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
  it('builds on node:20-slim with npm ci and the build, and runs the compiled server as a non-root user', () => {
    expect(dockerfile).toMatch(/^FROM node:20-slim AS build$/m);
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
