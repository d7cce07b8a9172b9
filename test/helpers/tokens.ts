/**
 * Test helper: CDS Hooks client JWTs signed with real keys, and a loopback JWKS server.
 *
 *   const key = await generateTestKey('ES384');            // or 'RS384' (any SUPPORTED alg); kid is random unless given
 *   const jwks = jwksOf(key);                              // { keys: [publicJwk] } for trusted-clients "jwks"
 *   const token = await signClientToken(key, { aud: 'http://127.0.0.1:3000/cds-services/lumbar-mri' });
 *   //  defaults: iss TEST_ISS, iat now, exp now+300, jti random 64 hex, header {alg: key.alg, typ: 'JWT', kid: key.kid}
 *   //  override claims:  { iss, aud, exp, iat, jti, tenant, claims: {extra: 1} }, remove with { omit: ['jti'] }
 *   //  override header:  { header: { kid: 'x', typ: 'jwt', jku: url } }  (header.alg must suit the key; see forgeToken)
 *   //  clock:            { now: () => ms } sets the default iat/exp
 *   const forged = forgeToken({ alg: 'none', typ: 'JWT', kid: 'k' }, { iss: TEST_ISS }); // unsigned / arbitrary alg
 *   const server = await startJwksServer(jwksOf(key));     // http://127.0.0.1:<port>/jwks.json
 *   server.setJwks(jwksOf(newKey));  server.requestCount;  await server.close();
 *   bearer(token) === `Bearer ${token}`
 */
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export type TestAlg = 'ES384' | 'RS384' | 'ES256' | 'ES512' | 'RS256' | 'RS512' | 'PS384';

export const TEST_ISS = 'https://ehr.example.org/cds-client';

export interface TestKey {
  alg: TestAlg;
  kid: string;
  privateKey: CryptoKey;
  /** Public JWK with kid, alg, use: 'sig'. */
  publicJwk: JWK;
}

export interface TokenOptions {
  iss?: string;
  aud?: string | string[];
  /** Seconds since the epoch. */
  exp?: number;
  iat?: number;
  jti?: string;
  tenant?: string;
  /** Extra or overriding payload members. */
  claims?: Record<string, unknown>;
  /** Payload members to delete after defaults and overrides. */
  omit?: string[];
  /** Header overrides: kid, typ, jku, ...; set a member to undefined to drop it. */
  header?: { alg?: string; kid?: string | undefined; typ?: string | undefined; jku?: string; [k: string]: unknown };
  /** Clock for default iat/exp, ms since the epoch. */
  now?: () => number;
}

export const DEFAULT_TEST_AUD = 'http://127.0.0.1/cds-services/test';

export async function generateTestKey(alg: TestAlg = 'ES384', kid: string = randomHex(16)): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicJwk };
}

export function jwksOf(...keys: TestKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => ({ ...k.publicJwk })) };
}

export function randomHex(bytes = 32): string {
  return randomBytes(bytes).toString('hex');
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

export async function signClientToken(key: TestKey, opts: TokenOptions = {}): Promise<string> {
  const payload = buildPayload(opts);
  const header = buildHeader(key.alg, key.kid, opts.header);
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

/** Builds a token whose signature is `signature` (default empty): for alg none/HS*, garbage, etc. */
export function forgeToken(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc(header)}.${enc(payload)}.${signature}`;
}

/** Default client claims (for use with forgeToken). */
export function buildPayload(opts: TokenOptions = {}): Record<string, unknown> {
  const nowSec = Math.floor((opts.now ?? Date.now)() / 1000);
  const iat = opts.iat ?? nowSec;
  const payload: Record<string, unknown> = {
    iss: opts.iss ?? TEST_ISS,
    aud: opts.aud ?? DEFAULT_TEST_AUD,
    iat,
    exp: opts.exp ?? iat + 300,
    jti: opts.jti ?? randomHex(32),
    ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}),
    ...opts.claims,
  };
  for (const k of opts.omit ?? []) delete payload[k];
  return payload;
}

function buildHeader(alg: string, kid: string, overrides: TokenOptions['header']): Record<string, unknown> {
  const header: Record<string, unknown> = { alg, typ: 'JWT', kid, ...overrides };
  for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k];
  return header;
}

export interface JwksServer {
  /** Full URL of the JWKS document, e.g. http://127.0.0.1:54321/jwks.json */
  url: string;
  /** Base http://127.0.0.1:<port> (other paths answer 404). */
  origin: string;
  /** Replace the served key set (key rotation). */
  setJwks(jwks: { keys: JWK[] }): void;
  /** Make the server answer with this HTTP status instead of the JWKS (e.g. 500), or undefined to restore. */
  setStatus(status: number | undefined): void;
  /** Requests received for the JWKS path. */
  readonly requestCount: number;
  close(): Promise<void>;
}

export async function startJwksServer(initial: { keys: JWK[] }, path = '/jwks.json'): Promise<JwksServer> {
  let body = JSON.stringify(initial);
  let status: number | undefined;
  let count = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== path) {
      res.writeHead(404).end();
      return;
    }
    count++;
    if (status !== undefined) {
      res.writeHead(status).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}${path}`,
    origin,
    setJwks(jwks) {
      body = JSON.stringify(jwks);
    },
    setStatus(s) {
      status = s;
    },
    get requestCount() {
      return count;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** The machine reason of a refusal (401 `bad-audience`, 503 `replay-cache-unavailable`): the OperationOutcome's `issue[0].details.coding[0].code`. */
export function refusalReason(body: unknown): string | undefined {
  const issue: unknown = (body as { issue?: unknown[] } | undefined)?.issue?.[0];
  const code: unknown = (issue as { details?: { coding?: { code?: unknown }[] } } | undefined)?.details?.coding?.[0]?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The OperationOutcome a 401 answers with, for `toEqual` (the machine reason in `details`). */
export function unauthorizedOutcome(reason: string): unknown {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'login', diagnostics: expect.any(String), details: { coding: [{ system: 'urn:lumbar-mri-cds:error-reason', code: reason }], text: reason } }],
  };
}
