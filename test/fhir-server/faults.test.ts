import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { afterEach, describe, expect, it } from 'vitest';
import { INVALID_JSON_BODY, startFaultServer } from '../../tools/fhir-server/faults.js';
import type { FaultServer } from '../../tools/fhir-server/faults.js';

describe('startFaultServer', () => {
  const servers: FaultServer[] = [];
  async function start(...args: Parameters<typeof startFaultServer>): Promise<FaultServer> {
    const server = await startFaultServer(...args);
    servers.push(server);
    return server;
  }
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('ok: serves the given JSON and logs the request', async () => {
    const body: Bundle = { resourceType: 'Bundle', type: 'searchset', total: 0 };
    const server = await start({ mode: 'ok', body });
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fhir$/);
    const res = await fetch(`${server.baseUrl}/Condition?patient=pat-1`, { headers: { Authorization: 'Bearer x' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(body);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({
      method: 'GET',
      url: '/fhir/Condition?patient=pat-1',
      authorization: 'Bearer x',
      hasAuthorization: true,
    });
  });

  it('slow: answers only after delayMs', async () => {
    const server = await start({ mode: 'slow', delayMs: 300 });
    const started = Date.now();
    const res = await fetch(`${server.baseUrl}/Patient/pat-1`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(((await res.json()) as Bundle).resourceType).toBe('Bundle');
  });

  it('slow: a client timeout fires first', async () => {
    const server = await start({ mode: 'slow', delayMs: 5000 });
    const started = Date.now();
    await expect(fetch(`${server.baseUrl}/Patient/pat-1`, { signal: AbortSignal.timeout(150) })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('status500: answers 500 with an OperationOutcome', async () => {
    const server = await start({ mode: 'status500' });
    const res = await fetch(`${server.baseUrl}/Coverage?patient=pat-1`);
    expect(res.status).toBe(500);
    expect(((await res.json()) as OperationOutcome).issue?.[0]?.code).toBe('exception');
  });

  it('invalidJson: answers 200 with a body that does not parse', async () => {
    const server = await start({ mode: 'invalidJson' });
    const res = await fetch(`${server.baseUrl}/Condition`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/fhir+json');
    const text = await res.text();
    expect(text).toBe(INVALID_JSON_BODY);
    expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);
  });

  it('hugeBundle: streams a valid searchset of the requested size', async () => {
    const server = await start({ mode: 'hugeBundle', hugeBundleBytes: 5 * 1024 * 1024 });
    const res = await fetch(`${server.baseUrl}/Observation?patient=huge-patient`);
    const text = await res.text();
    expect(text.length).toBeGreaterThanOrEqual(5 * 1024 * 1024);
    expect(text.length).toBeLessThan(6 * 1024 * 1024);
    const bundle = JSON.parse(text) as Bundle;
    expect(bundle.type).toBe('searchset');
    expect(bundle.entry?.length).toBe(bundle.total);
    expect(bundle.entry?.[0]?.resource?.resourceType).toBe('Observation');
  });

  it('hugeBundle: defaults to many MB', async () => {
    const server = await start({ mode: 'hugeBundle' });
    const res = await fetch(`${server.baseUrl}/Observation`);
    const buf = await res.arrayBuffer();
    expect(buf.byteLength).toBeGreaterThanOrEqual(16 * 1024 * 1024);
  });

  it('dropConnection: the client sees a network error', async () => {
    const server = await start({ mode: 'dropConnection' });
    await expect(fetch(`${server.baseUrl}/Patient/pat-1`)).rejects.toThrow(TypeError);
    expect(server.requests).toHaveLength(1);
  });

  it('redirect: answers 302 to the given location, which a client can follow', async () => {
    const target = await start({ mode: 'ok', body: { resourceType: 'Patient', id: 'pat-1' } });
    const server = await start({ mode: 'redirect', location: `${target.baseUrl}/Patient/pat-1` });
    const manual = await fetch(`${server.baseUrl}/Patient/pat-1`, { redirect: 'manual' });
    expect(manual.status).toBe(302);
    expect(manual.headers.get('location')).toBe(`${target.baseUrl}/Patient/pat-1`);
    const followed = await fetch(`${server.baseUrl}/Patient/pat-1`);
    expect(await followed.json()).toEqual({ resourceType: 'Patient', id: 'pat-1' });
    expect(target.requests.map((r) => r.url)).toEqual(['/fhir/Patient/pat-1']);
  });

  it('redirect needs a location', async () => {
    await expect(startFaultServer({ mode: 'redirect' })).rejects.toThrow(/needs a location/);
  });

  it('configure: switches the mode for later requests', async () => {
    const server = await start({ mode: 'status500' });
    expect((await fetch(server.baseUrl)).status).toBe(500);
    server.configure({ mode: 'ok', body: { resourceType: 'Bundle', type: 'searchset' } });
    expect((await fetch(server.baseUrl)).status).toBe(200);
  });

  it('a delay applies to other modes too', async () => {
    const server = await start({ mode: 'status500', delayMs: 200 });
    const started = Date.now();
    expect((await fetch(server.baseUrl)).status).toBe(500);
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
  });
});
