import { describe, expect, it } from 'vitest';
import { isFhirServerAllowed } from '../../src/security/middleware.js';

const ALLOWED = ['https://ehr.example.org/fhir/r4/'];

describe('isFhirServerAllowed', () => {
  it.each([
    ['https://ehr.example.org/fhir/r4', 'exact'],
    ['https://ehr.example.org/fhir/r4/', 'trailing slash'],
    ['https://ehr.example.org/fhir/r4//', 'two trailing slashes'],
    ['https://ehr.example.org/fhir/r4/tenant-1', 'sub-path at a boundary'],
    ['https://EHR.Example.ORG/fhir/r4', 'host case is normalised'],
    ['https://ehr.example.org:443/fhir/r4', 'default port'],
    ['https://ehr.example.org/fhir/x/../r4', 'dot segments resolved'],
  ])('allows %s (%s)', (url) => {
    expect(isFhirServerAllowed(url, ALLOWED)).toBe(true);
  });

  it.each([
    ['https://ehr.example.org.evil.com/fhir/r4', 'host suffix trick'],
    ['https://evil.com/ehr.example.org/fhir/r4', 'host in path'],
    ['https://ehr.example.org@evil.com/fhir/r4', 'userinfo trick'],
    ['https://user:pw@ehr.example.org/fhir/r4', 'credentials'],
    ['http://ehr.example.org/fhir/r4', 'scheme downgrade'],
    ['https://ehr.example.org:8443/fhir/r4', 'other port'],
    ['https://ehr.example.org/fhir/r4x', 'not a path boundary'],
    ['https://ehr.example.org/fhir', 'parent path'],
    ['https://ehr.example.org/fhir/r4/../admin', 'dot segments escaping the base'],
    ['https://ehr.example.org/fhir/r4/%2e%2e/admin', 'encoded dot segments'],
    ['https://ehr.example.org/FHIR/r4', 'path is case-sensitive'],
    ['https://ehr.example.org/fhir/r4?x=https://ehr.example.org/fhir/r4', 'query'],
    ['https://ehr.example.org/fhir/r4#frag', 'fragment'],
    ['ftp://ehr.example.org/fhir/r4', 'other scheme'],
    ['javascript:alert(1)//ehr.example.org/fhir/r4', 'javascript'],
    ['/fhir/r4', 'relative'],
    ['', 'empty'],
    ['not a url', 'garbage'],
  ])('refuses %s (%s)', (url) => {
    expect(isFhirServerAllowed(url, ALLOWED)).toBe(false);
  });

  it('refuses everything with an empty allowlist, and ignores invalid allowlist entries', () => {
    expect(isFhirServerAllowed('https://ehr.example.org/fhir/r4', [])).toBe(false);
    expect(isFhirServerAllowed('https://ehr.example.org/fhir/r4', ['nonsense', 'https://ehr.example.org/fhir/r4'])).toBe(true);
  });

  it('a host-root allowlist entry allows any path on that origin only', () => {
    expect(isFhirServerAllowed('https://ehr.example.org/any/path', ['https://ehr.example.org/'])).toBe(true);
    expect(isFhirServerAllowed('https://ehr.example.org.evil.com/', ['https://ehr.example.org'])).toBe(false);
  });

  it('handles loopback http bases with ports', () => {
    expect(isFhirServerAllowed('http://127.0.0.1:8080/fhir', ['http://127.0.0.1:8080/fhir/'])).toBe(true);
    expect(isFhirServerAllowed('http://localhost:8080/fhir', ['http://127.0.0.1:8080/fhir/'])).toBe(false);
  });
});
