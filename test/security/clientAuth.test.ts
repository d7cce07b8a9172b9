import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, createClientAuthenticator, type AuthFailureReason, type ClientAuthenticatorOptions } from '../../src/security/clientAuth.js';
import { createMemoryReplayCache, ReplayCacheFullError, type ReplayCache } from '../../src/security/replayCache.js';
import type { TrustedClient } from '../../src/security/trustedClients.js';
import {
  bearer,
  buildPayload,
  forgeToken,
  generateTestKey,
  jwksOf,
  signClientToken,
  startJwksServer,
  TEST_ISS,
  type JwksServer,
  type TestAlg,
  type TestKey,
  type TokenOptions,
} from '../helpers/tokens.js';

const AUD = 'https://cds.example.org/cds-services/lumbar-mri';
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0); // fixed clock
const T0S = T0 / 1000;
const FHIR = ['https://ehr.example.org/fhir'];

async function expectReason(p: Promise<unknown>, reason: AuthFailureReason): Promise<AuthError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected AuthError(${reason})`).toBeInstanceOf(AuthError);
  expect((err as AuthError).reason).toBe(reason);
  return err as AuthError;
}

function makeAuth(clients: TrustedClient[], extra: Partial<ClientAuthenticatorOptions> = {}) {
  return createClientAuthenticator({ clients, replayCache: createMemoryReplayCache(), now: () => T0, ...extra });
}

for (const alg of ['ES384', 'RS384'] as const satisfies readonly TestAlg[]) {
  for (const source of ['inline', 'url'] as const) {
    describe(`clientAuth ${alg} with ${source} JWKS`, () => {
      let key: TestKey;
      let otherKey: TestKey;
      let server: JwksServer;
      let client: TrustedClient;

      beforeAll(async () => {
        key = await generateTestKey(alg);
        otherKey = await generateTestKey(alg);
        server = await startJwksServer(jwksOf(key));
        client =
          source === 'inline'
            ? { iss: TEST_ISS, jwks: jwksOf(key) as TrustedClient['jwks'], jkuAllowlist: [], fhirServers: FHIR, label: 'Test EHR' }
            : { iss: TEST_ISS, jwksUri: server.url, jkuAllowlist: [], fhirServers: FHIR, label: 'Test EHR' };
      });
      afterAll(async () => server.close());

      const sign = (o: TokenOptions = {}, k: TestKey = key) => signClientToken(k, { aud: AUD, now: () => T0, ...o });

      it('accepts a valid token and returns the client', async () => {
        const auth = makeAuth([client]);
        const result = await auth.authenticate(bearer(await sign({ jti: 'abc', tenant: 't1' })), AUD);
        expect(result).toEqual({ iss: TEST_ISS, jti: 'abc', tenant: 't1', fhirServers: FHIR, label: 'Test EHR' });
      });

      it('accepts aud as an array containing the endpoint', async () => {
        const auth = makeAuth([client]);
        await expect(auth.authenticate(bearer(await sign({ aud: ['https://other', AUD] })), AUD)).resolves.toMatchObject({ iss: TEST_ISS });
      });

      it('rejects a missing Authorization header', async () => {
        await expectReason(makeAuth([client]).authenticate(undefined, AUD), 'missing-token');
        await expectReason(makeAuth([client]).authenticate('', AUD), 'missing-token');
      });

      it('rejects a non-Bearer scheme and non-JWT garbage', async () => {
        const t = await sign();
        await expectReason(makeAuth([client]).authenticate(`Basic ${t}`, AUD), 'malformed-token');
        await expectReason(makeAuth([client]).authenticate('Bearer not.a.jwt', AUD), 'malformed-token');
        await expectReason(makeAuth([client]).authenticate('Bearer', AUD), 'malformed-token');
      });

      it('accepts a lower-case bearer scheme', async () => {
        await expect(makeAuth([client]).authenticate(`bearer ${await sign()}`, AUD)).resolves.toBeDefined();
      });

      it('rejects a signature by another key carrying the right kid', async () => {
        const forged = await sign({ header: { kid: key.kid } }, otherKey);
        await expectReason(makeAuth([client]).authenticate(bearer(forged), AUD), 'bad-signature');
      });

      it('rejects a tampered payload', async () => {
        const t = await sign();
        const [h, , s] = t.split('.');
        const p = Buffer.from(JSON.stringify(buildPayload({ aud: AUD, now: () => T0, claims: { admin: true } }))).toString('base64url');
        await expectReason(makeAuth([client]).authenticate(bearer(`${h}.${p}.${s}`), AUD), 'bad-signature');
      });

      it('rejects an unknown kid', async () => {
        const t = await sign({}, otherKey);
        await expectReason(makeAuth([client]).authenticate(bearer(t), AUD), 'unknown-kid');
      });

      it('rejects a missing kid', async () => {
        const t = await sign({ header: { kid: undefined } });
        await expectReason(makeAuth([client]).authenticate(bearer(t), AUD), 'missing-kid');
      });

      it('rejects typ other than JWT, or absent', async () => {
        await expectReason(makeAuth([client]).authenticate(bearer(await sign({ header: { typ: 'at+jwt' } })), AUD), 'bad-typ');
        await expectReason(makeAuth([client]).authenticate(bearer(await sign({ header: { typ: undefined } })), AUD), 'bad-typ');
      });

      it('rejects an untrusted or missing iss', async () => {
        await expectReason(makeAuth([client]).authenticate(bearer(await sign({ iss: 'https://evil.example' })), AUD), 'untrusted-issuer');
        await expectReason(makeAuth([client]).authenticate(bearer(await sign({ omit: ['iss'] })), AUD), 'missing-claim');
      });

      it('rejects a wrong audience (exact match only)', async () => {
        const auth = makeAuth([client]);
        await expectReason(auth.authenticate(bearer(await sign({ aud: 'https://cds.example.org/cds-services/other' })), AUD), 'bad-audience');
        await expectReason(auth.authenticate(bearer(await sign({ aud: `${AUD}/` })), AUD), 'bad-audience');
        await expectReason(auth.authenticate(bearer(await sign({ aud: AUD.toUpperCase() })), AUD), 'bad-audience');
        await expectReason(auth.authenticate(bearer(await sign({ aud: ['https://a', 'https://b'] })), AUD), 'bad-audience');
        await expectReason(auth.authenticate(bearer(await sign({ omit: ['aud'] })), AUD), 'missing-claim');
      });

      it('rejects an expired token, allowing the clock skew', async () => {
        const auth = makeAuth([client]);
        await expectReason(auth.authenticate(bearer(await sign({ iat: T0S - 400, exp: T0S - 61 })), AUD), 'expired');
        await expectReason(auth.authenticate(bearer(await sign({ iat: T0S - 400, exp: T0S - 60 })), AUD), 'expired');
        await expect(auth.authenticate(bearer(await sign({ iat: T0S - 400, exp: T0S - 59 })), AUD)).resolves.toBeDefined();
        const strict = makeAuth([client], { clockSkewSeconds: 0 });
        await expectReason(strict.authenticate(bearer(await sign({ iat: T0S - 400, exp: T0S - 1 })), AUD), 'expired');
      });

      it('rejects iat in the future beyond the skew', async () => {
        const auth = makeAuth([client]);
        await expectReason(auth.authenticate(bearer(await sign({ iat: T0S + 61, exp: T0S + 300 })), AUD), 'iat-in-future');
        await expect(auth.authenticate(bearer(await sign({ iat: T0S + 59, exp: T0S + 300 })), AUD)).resolves.toBeDefined();
      });

      it('rejects nbf in the future', async () => {
        await expectReason(makeAuth([client]).authenticate(bearer(await sign({ claims: { nbf: T0S + 120 } })), AUD), 'not-yet-valid');
      });

      it('rejects missing exp, iat or jti', async () => {
        const auth = makeAuth([client]);
        await expectReason(auth.authenticate(bearer(await sign({ omit: ['exp'] })), AUD), 'missing-claim');
        await expectReason(auth.authenticate(bearer(await sign({ omit: ['iat'] })), AUD), 'missing-claim');
        await expectReason(auth.authenticate(bearer(await sign({ omit: ['jti'] })), AUD), 'missing-claim');
        await expectReason(auth.authenticate(bearer(await sign({ jti: '' })), AUD), 'missing-claim');
      });

      it('rejects a lifetime beyond the maximum (default 1 h)', async () => {
        await expectReason(makeAuth([client]).authenticate(bearer(await sign({ iat: T0S, exp: T0S + 3601 })), AUD), 'lifetime-too-long');
      });

      it('refuses a replayed jti, but accepts the same jti from another iss', async () => {
        const key2 = await generateTestKey(alg);
        const client2: TrustedClient = { iss: 'https://other-ehr.example', jwks: jwksOf(key2) as TrustedClient['jwks'], jkuAllowlist: [], fhirServers: [] };
        const auth = makeAuth([client, client2]);
        const t = await sign({ jti: 'same' });
        await auth.authenticate(bearer(t), AUD);
        const err = await expectReason(auth.authenticate(bearer(t), AUD), 'replayed-jti');
        expect(err.iss).toBe(TEST_ISS);
        expect(err.jti).toBe('same');
        await expectReason(auth.authenticate(bearer(await sign({ jti: 'same' })), AUD), 'replayed-jti');
        await expect(auth.authenticate(bearer(await sign({ jti: 'same', iss: client2.iss }, key2)), AUD)).resolves.toMatchObject({ iss: client2.iss });
      });

      it('rejects alg none and HS256 even with a valid-looking header', async () => {
        const payload = buildPayload({ aud: AUD, now: () => T0 });
        await expectReason(makeAuth([client]).authenticate(bearer(forgeToken({ alg: 'none', typ: 'JWT', kid: key.kid }, payload)), AUD), 'bad-alg');
        await expectReason(makeAuth([client]).authenticate(bearer(forgeToken({ alg: 'HS256', typ: 'JWT', kid: key.kid }, payload, 'c2ln')), AUD), 'bad-alg');
      });
    });
  }
}

describe('clientAuth algorithms', () => {
  it('rejects algorithms outside the default set unless configured', async () => {
    const key = await generateTestKey('ES256');
    const client: TrustedClient = { iss: TEST_ISS, jwks: jwksOf(key) as TrustedClient['jwks'], jkuAllowlist: [], fhirServers: [] };
    const t = () => signClientToken(key, { aud: AUD, now: () => T0 });
    await expectReason(makeAuth([client]).authenticate(bearer(await t()), AUD), 'bad-alg');
    await expect(makeAuth([client], { algorithms: ['ES384', 'ES256'] }).authenticate(bearer(await t()), AUD)).resolves.toBeDefined();
  });

  it.each(['ES512', 'RS256', 'RS512', 'PS384'] as const)('accepts %s when configured', async (alg) => {
    const key = await generateTestKey(alg);
    const client: TrustedClient = { iss: TEST_ISS, jwks: jwksOf(key) as TrustedClient['jwks'], jkuAllowlist: [], fhirServers: [] };
    const t = await signClientToken(key, { aud: AUD, now: () => T0 });
    await expectReason(makeAuth([client]).authenticate(bearer(t), AUD), 'bad-alg');
    await expect(makeAuth([client], { algorithms: [alg] }).authenticate(bearer(t), AUD)).resolves.toBeDefined();
  });

  it('refuses to be configured with none or HS256', () => {
    expect(() => makeAuth([], { algorithms: ['none' as never] })).toThrow(/unsupported/);
    expect(() => makeAuth([], { algorithms: ['HS256' as never] })).toThrow(/unsupported/);
    expect(() => makeAuth([], { algorithms: [] })).toThrow(/at least one/);
  });

  it('rejects a header alg that does not match the key type (ES384 header, RSA kid)', async () => {
    const rsa = await generateTestKey('RS384');
    const ec = await generateTestKey('ES384', rsa.kid);
    const client: TrustedClient = { iss: TEST_ISS, jwks: jwksOf(rsa) as TrustedClient['jwks'], jkuAllowlist: [], fhirServers: [] };
    const t = await signClientToken(ec, { aud: AUD, now: () => T0 });
    await expectReason(makeAuth([client]).authenticate(bearer(t), AUD), 'unknown-kid');
  });
});

describe('clientAuth jku', () => {
  let key: TestKey;
  let main: JwksServer;
  let alt: JwksServer;
  beforeAll(async () => {
    key = await generateTestKey('ES384');
    main = await startJwksServer(jwksOf(key));
    alt = await startJwksServer(jwksOf(key), '/alt/jwks.json');
  });
  afterAll(async () => {
    await main.close();
    await alt.close();
  });
  const sign = (o: TokenOptions = {}) => signClientToken(key, { aud: AUD, now: () => T0, ...o });

  it('accepts jku equal to the client jwks_uri', async () => {
    const auth = makeAuth([{ iss: TEST_ISS, jwksUri: main.url, jkuAllowlist: [], fhirServers: [] }]);
    await expect(auth.authenticate(bearer(await sign({ header: { jku: main.url } })), AUD)).resolves.toBeDefined();
  });

  it('accepts an allowlisted jku and fetches the keys from it', async () => {
    const before = alt.requestCount;
    const auth = makeAuth([{ iss: TEST_ISS, jwksUri: main.url, jkuAllowlist: [alt.url], fhirServers: [] }]);
    await expect(auth.authenticate(bearer(await sign({ header: { jku: alt.url } })), AUD)).resolves.toBeDefined();
    expect(alt.requestCount).toBe(before + 1);
  });

  it('rejects a jku that is not allowlisted, without fetching it', async () => {
    const before = alt.requestCount;
    const auth = makeAuth([{ iss: TEST_ISS, jwksUri: main.url, jkuAllowlist: [], fhirServers: [] }]);
    await expectReason(auth.authenticate(bearer(await sign({ header: { jku: alt.url } })), AUD), 'jku-not-allowed');
    await expectReason(auth.authenticate(bearer(await sign({ header: { jku: `${main.url}?x` } })), AUD), 'jku-not-allowed');
    expect(alt.requestCount).toBe(before);
  });

  it('rejects a jku allowlisted for a different client', async () => {
    const auth = makeAuth([
      { iss: TEST_ISS, jwksUri: main.url, jkuAllowlist: [], fhirServers: [] },
      { iss: 'https://b.example', jwksUri: alt.url, jkuAllowlist: [], fhirServers: [] },
    ]);
    await expectReason(auth.authenticate(bearer(await sign({ header: { jku: alt.url } })), AUD), 'jku-not-allowed');
  });

  it('with inline keys, checks an allowlisted jku but verifies with the pinned keys (no fetch)', async () => {
    const before = alt.requestCount;
    const auth = makeAuth([{ iss: TEST_ISS, jwks: jwksOf(key) as TrustedClient['jwks'], jkuAllowlist: [alt.url], fhirServers: [] }]);
    await expect(auth.authenticate(bearer(await sign({ header: { jku: alt.url } })), AUD)).resolves.toBeDefined();
    await expectReason(auth.authenticate(bearer(await sign({ header: { jku: main.url } })), AUD), 'jku-not-allowed');
    expect(alt.requestCount).toBe(before);
  });

  it('reports jwks-unavailable when the JWKS URL fails', async () => {
    const down = await startJwksServer(jwksOf(key));
    down.setStatus(500);
    const auth = makeAuth([{ iss: TEST_ISS, jwksUri: down.url, jkuAllowlist: [], fhirServers: [] }]);
    await expectReason(auth.authenticate(bearer(await sign()), AUD), 'jwks-unavailable');
    await down.close();
  });
});

describe('clientAuth key rotation via jwks_uri', () => {
  it('refetches on an unknown kid (rotation), rate-limited by the minimum refresh interval', async () => {
    const k1 = await generateTestKey('RS384');
    const k2 = await generateTestKey('RS384');
    const k3 = await generateTestKey('RS384');
    const server = await startJwksServer(jwksOf(k1));
    let now = T0;
    const auth = createClientAuthenticator({
      clients: [{ iss: TEST_ISS, jwksUri: server.url, jkuAllowlist: [], fhirServers: [] }],
      replayCache: createMemoryReplayCache(),
      now: () => now,
      jwks: { minRefreshIntervalMs: 30_000, cacheMaxAgeMs: 600_000 },
    });
    const sign = (k: TestKey) => signClientToken(k, { aud: AUD, now: () => now });

    await auth.authenticate(bearer(await sign(k1)), AUD);
    expect(server.requestCount).toBe(1);
    await auth.authenticate(bearer(await sign(k1)), AUD);
    expect(server.requestCount).toBe(1); // cached

    server.setJwks(jwksOf(k2, k3)); // client rotates to k2
    now += 31_000;
    await auth.authenticate(bearer(await sign(k2)), AUD);
    expect(server.requestCount).toBe(2); // unknown kid triggered a refetch

    // An attacker sending unknown kids cannot make us refetch within the interval.
    const stranger = await generateTestKey('RS384');
    for (let i = 0; i < 5; i++) await expectReason(auth.authenticate(bearer(await sign(stranger)), AUD), 'unknown-kid');
    expect(server.requestCount).toBe(2);
    // k1 was rotated out and is no longer accepted.
    await expectReason(auth.authenticate(bearer(await sign(k1)), AUD), 'unknown-kid');
    await auth.authenticate(bearer(await sign(k3)), AUD);
    expect(server.requestCount).toBe(2);

    // After the TTL the set is refetched even for a known kid.
    now += 600_000;
    await auth.authenticate(bearer(await sign(k3)), AUD);
    expect(server.requestCount).toBe(3);
    await server.close();
  });
});

describe('clientAuth replay cache interaction', () => {
  it('keys the cache by iss|jti with a TTL covering exp plus skew', async () => {
    const key = await generateTestKey('ES384');
    const calls: Array<[string, number]> = [];
    const cache: ReplayCache = {
      async checkAndRemember(k, ttl) {
        calls.push([k, ttl]);
        return true;
      },
    };
    const auth = makeAuth([{ iss: TEST_ISS, jwks: jwksOf(key) as TrustedClient['jwks'], jkuAllowlist: [], fhirServers: [] }], { replayCache: cache });
    await auth.authenticate(bearer(await signClientToken(key, { aud: AUD, iat: T0S, exp: T0S + 300, jti: 'j1' })), AUD);
    expect(calls).toEqual([[`${TEST_ISS}|j1`, 360]]);
  });

  it('does not touch the replay cache for tokens that fail earlier checks', async () => {
    const key = await generateTestKey('ES384');
    let calls = 0;
    const cache: ReplayCache = {
      async checkAndRemember() {
        calls++;
        return true;
      },
    };
    const auth = makeAuth([{ iss: TEST_ISS, jwks: jwksOf(key) as TrustedClient['jwks'], jkuAllowlist: [], fhirServers: [] }], { replayCache: cache });
    await expectReason(auth.authenticate(bearer(await signClientToken(key, { aud: 'https://x' , now: () => T0 })), AUD), 'bad-audience');
    expect(calls).toBe(0);
  });

  it('maps a full cache to replay-cache-full', async () => {
    const key = await generateTestKey('ES384');
    const cache: ReplayCache = {
      async checkAndRemember() {
        throw new ReplayCacheFullError();
      },
    };
    const auth = makeAuth([{ iss: TEST_ISS, jwks: jwksOf(key) as TrustedClient['jwks'], jkuAllowlist: [], fhirServers: [] }], { replayCache: cache });
    await expectReason(auth.authenticate(bearer(await signClientToken(key, { aud: AUD, now: () => T0 })), AUD), 'replay-cache-full');
  });
});

describe('clientAuth tenant allowlist', () => {
  it('enforces tenants when the client lists them', async () => {
    const key = await generateTestKey('ES384');
    const auth = makeAuth([{ iss: TEST_ISS, jwks: jwksOf(key) as TrustedClient['jwks'], jkuAllowlist: [], fhirServers: [], tenants: ['org-1'] }]);
    const sign = (o: TokenOptions) => signClientToken(key, { aud: AUD, now: () => T0, ...o });
    await expect(auth.authenticate(bearer(await sign({ tenant: 'org-1' })), AUD)).resolves.toMatchObject({ tenant: 'org-1' });
    await expectReason(auth.authenticate(bearer(await sign({ tenant: 'org-2' })), AUD), 'bad-tenant');
    await expectReason(auth.authenticate(bearer(await sign({})), AUD), 'bad-tenant');
  });
});
