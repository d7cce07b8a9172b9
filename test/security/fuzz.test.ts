import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import { AuthError, createClientAuthenticator, type ClientAuthenticator } from '../../src/security/clientAuth.js';
import { createMemoryReplayCache } from '../../src/security/replayCache.js';
import { forgeToken, generateTestKey, jwksOf, TEST_ISS } from '../helpers/tokens.js';

const AUD = 'https://cds.example.org/cds-services/x';

describe('authenticate on garbage input', () => {
  let auth: ClientAuthenticator;
  let kid: string;
  beforeAll(async () => {
    const key = await generateTestKey('ES384');
    kid = key.kid;
    auth = createClientAuthenticator({
      clients: [{ iss: TEST_ISS, jwks: jwksOf(key) as never, jkuAllowlist: [], fhirServers: [] }],
      replayCache: createMemoryReplayCache(),
    });
  });

  const onlyAuthErrors = async (header: string | undefined) => {
    try {
      await auth.authenticate(header, AUD);
      return false; // garbage must never authenticate
    } catch (e) {
      return e instanceof AuthError;
    }
  };

  const b64 = (s: string) => Buffer.from(s).toString('base64url');
  const segment = fc.oneof(fc.string(), fc.base64String(), fc.json().map(b64), fc.string().map(b64));
  const jsonish = fc.oneof(fc.json(), fc.jsonValue().map((v) => JSON.stringify(v)));

  it('random Authorization headers only ever yield AuthError', async () => {
    const header = fc.oneof(
      fc.string(),
      fc.string().map((s) => `Bearer ${s}`),
      fc.tuple(segment, segment, segment).map(([a, b, c]) => `Bearer ${a}.${b}.${c}`),
      fc.tuple(jsonish, jsonish, fc.base64String()).map(([h, p, s]) => `Bearer ${b64(h)}.${b64(p)}.${s.replace(/=/g, '')}`),
      fc.tuple(fc.dictionary(fc.string(), fc.jsonValue()), fc.dictionary(fc.string(), fc.jsonValue())).map(
        ([h, p]) => `Bearer ${forgeToken({ typ: 'JWT', alg: 'ES384', kid, ...h }, { iss: TEST_ISS, aud: AUD, ...p }, 'AAAA')}`,
      ),
      fc.constant(undefined),
    );
    await fc.assert(fc.asyncProperty(header, (h) => onlyAuthErrors(h)), { numRuns: 500 });
  });

  it('structurally plausible tokens with random claims only ever yield AuthError', async () => {
    const claim = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    const token = fc.record({ exp: claim, iat: claim, jti: claim, aud: claim, alg: fc.constantFrom('ES384', 'RS384', 'none', 'HS256', '', 'es384') }).map(
      ({ alg, ...p }) => `Bearer ${forgeToken({ typ: 'JWT', alg, kid }, { iss: TEST_ISS, ...p }, b64('x'.repeat(96)))}`,
    );
    await fc.assert(fc.asyncProperty(token, (h) => onlyAuthErrors(h)), { numRuns: 300 });
  });
});
