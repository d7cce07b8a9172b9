import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJwks, JwksUnavailableError } from '../../src/security/remoteJwks.js';
import { generateTestKey, jwksOf, startJwksServer, type JwksServer, type TestKey } from '../helpers/tokens.js';

const header = (k: TestKey) => ({ alg: k.alg, kid: k.kid });
const TOKEN = { payload: '', signature: '' };

describe('createRemoteJwks', () => {
  let key: TestKey;
  let server: JwksServer;
  beforeAll(async () => {
    key = await generateTestKey('ES384');
    server = await startJwksServer(jwksOf(key));
  });
  afterAll(async () => server.close());

  it('shares one fetch between concurrent callers', async () => {
    const jwks = createRemoteJwks(server.url);
    await Promise.all(Array.from({ length: 10 }, () => jwks.resolve(header(key), TOKEN)));
    expect(jwks.fetchCount).toBe(1);
  });

  it('rate-limits retries after a failed fetch', async () => {
    let now = 0;
    server.setStatus(503);
    const jwks = createRemoteJwks(server.url, { now: () => now, minRefreshIntervalMs: 30_000 });
    await expect(jwks.resolve(header(key), TOKEN)).rejects.toBeInstanceOf(JwksUnavailableError);
    server.setStatus(undefined);
    await expect(jwks.resolve(header(key), TOKEN)).rejects.toThrow(/rate-limited/);
    expect(jwks.fetchCount).toBe(1);
    now = 30_000;
    await expect(jwks.resolve(header(key), TOKEN)).resolves.toBeDefined();
    expect(jwks.fetchCount).toBe(2);
  });

  it('drops private and symmetric keys from a fetched set', async () => {
    const leaky = await startJwksServer({ keys: [{ ...key.publicJwk, d: 'AAAA' }, { kty: 'oct', kid: 'h', k: 'c2VjcmV0' }] });
    const jwks = createRemoteJwks(leaky.url);
    await expect(jwks.resolve(header(key), TOKEN)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    await leaky.close();
  });

  it('does not follow redirects and caps the body size', async () => {
    const big = JSON.stringify({ keys: [key.publicJwk], pad: 'x'.repeat(2000) });
    const s = createServer((req, res) => {
      if (req.url === '/redirect') res.writeHead(302, { location: server.url }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(big);
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    await expect(createRemoteJwks(`${base}/redirect`).resolve(header(key), TOKEN)).rejects.toThrow(/HTTP 302/);
    await expect(createRemoteJwks(`${base}/big`, { maxBytes: 1000 }).resolve(header(key), TOKEN)).rejects.toThrow(/larger than 1000/);
    await expect(createRemoteJwks(`${base}/big`).resolve(header(key), TOKEN)).resolves.toBeDefined();
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  });

  it('times out a slow JWKS host', async () => {
    const s = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/jwks.json`;
    await expect(createRemoteJwks(url, { timeoutMs: 100 }).resolve(header(key), TOKEN)).rejects.toBeInstanceOf(JwksUnavailableError);
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  });
});
