import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrustedClients, parseTrustedClients, TrustedClientsError } from '../../src/security/trustedClients.js';
import { generateTestKey, jwksOf } from '../helpers/tokens.js';

const ok = {
  iss: 'https://ehr.example.org',
  jwks_uri: 'https://ehr.example.org/jwks.json',
  fhir_servers: ['https://ehr.example.org/fhir'],
};

function problems(json: unknown): string {
  try {
    parseTrustedClients(json, 'clients.json');
  } catch (e) {
    expect(e).toBeInstanceOf(TrustedClientsError);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('parseTrustedClients', () => {
  it('maps a jwks_uri entry to camelCase', () => {
    expect(parseTrustedClients([{ ...ok, jku_allowlist: ['https://ehr.example.org/k2.json'], label: 'EHR', tenants: ['t'] }], 'f')).toEqual([
      {
        iss: ok.iss,
        jwksUri: ok.jwks_uri,
        jkuAllowlist: ['https://ehr.example.org/k2.json'],
        fhirServers: ok.fhir_servers,
        tenants: ['t'],
        label: 'EHR',
      },
    ]);
  });

  it('accepts an inline JWKS of public keys', async () => {
    const k = await generateTestKey('ES384');
    const [c] = parseTrustedClients([{ iss: 'x', jwks: jwksOf(k), fhir_servers: [] }], 'f');
    expect(c?.jwks?.keys[0]?.kid).toBe(k.kid);
    expect(c?.jkuAllowlist).toEqual([]);
  });

  it('requires exactly one of jwks_uri and jwks', async () => {
    const k = await generateTestKey('ES384');
    expect(problems([{ iss: 'x', fhir_servers: [] }])).toMatch(/clients\.json.*entry \[0\] \(iss "x"\).*exactly one of "jwks_uri" or "jwks"/s);
    expect(problems([{ ...ok, jwks: jwksOf(k) }])).toMatch(/exactly one/);
  });

  it('cites the file, the entry index and iss, and the field', () => {
    const msg = problems([ok, { iss: 'https://bad.example', jwks_uri: 'not a url', fhir_servers: ['ftp://x'] }]);
    expect(msg).toContain('clients.json');
    expect(msg).toContain('entry [1] (iss "https://bad.example"): jwks_uri:');
    expect(msg).toContain('fhir_servers.0:');
    expect(msg).not.toContain('entry [0]');
  });

  it('rejects a non-array file, unknown fields and duplicate iss', () => {
    expect(problems({ clients: [] })).toMatch(/expected a JSON array/);
    expect(problems([{ ...ok, jwks_url: 'https://x' }])).toMatch(/jwks_url/);
    expect(problems([ok, ok])).toMatch(/entry \[1\].*duplicate iss \(also entry \[0\]\)/);
  });

  it('requires https key URLs except on loopback', () => {
    expect(problems([{ ...ok, jwks_uri: 'http://ehr.example.org/jwks.json' }])).toMatch(/https/);
    expect(problems([{ ...ok, jku_allowlist: ['http://ehr.example.org/k.json'] }])).toMatch(/jku_allowlist\.0/);
    expect(parseTrustedClients([{ ...ok, jwks_uri: 'http://127.0.0.1:8080/jwks.json' }], 'f')).toHaveLength(1);
    expect(parseTrustedClients([{ ...ok, jwks_uri: 'http://localhost/jwks.json' }], 'f')).toHaveLength(1);
  });

  it('rejects private, symmetric, kid-less and duplicate-kid keys', async () => {
    const k = await generateTestKey('ES384');
    const pub = k.publicJwk;
    expect(problems([{ iss: 'x', fhir_servers: [], jwks: { keys: [{ ...pub, d: 'secret' }] } }])).toMatch(/private member "d"/);
    expect(problems([{ iss: 'x', fhir_servers: [], jwks: { keys: [{ kty: 'oct', kid: 'h', k: 'c2VjcmV0' }] } }])).toMatch(/kty must be EC or RSA/);
    expect(problems([{ iss: 'x', fhir_servers: [], jwks: { keys: [{ ...pub, kid: undefined }] } }])).toMatch(/kid/);
    expect(problems([{ iss: 'x', fhir_servers: [], jwks: { keys: [pub, pub] } }])).toMatch(/duplicate kid/);
    expect(problems([{ iss: 'x', fhir_servers: [], jwks: { keys: [] } }])).toMatch(/must not be empty/);
  });

  it('rejects FHIR base URLs with a query, fragment or credentials', () => {
    expect(problems([{ ...ok, fhir_servers: ['https://ehr/fhir?x=1'] }])).toMatch(/fhir_servers\.0/);
    expect(problems([{ ...ok, fhir_servers: ['https://u:p@ehr/fhir'] }])).toMatch(/fhir_servers\.0/);
  });
});

describe('loadTrustedClients', () => {
  it('reads a file and reports bad JSON and missing files with the path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tc-'));
    const good = join(dir, 'good.json');
    const bad = join(dir, 'bad.json');
    await writeFile(good, JSON.stringify([ok]));
    await writeFile(bad, '[{');
    await expect(loadTrustedClients(good)).resolves.toHaveLength(1);
    await expect(loadTrustedClients(bad)).rejects.toThrow(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON`));
    await expect(loadTrustedClients(join(dir, 'none.json'))).rejects.toThrow(/none\.json: cannot read/);
  });
});
