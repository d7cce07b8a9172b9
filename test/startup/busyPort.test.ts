import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Runs a command to its end (or kills it after `ms`) and returns its exit code and output. */
function run(args: string[], env: NodeJS.ProcessEnv, ms = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Another program already holds the port: both servers say so in one line and exit non-zero. */
describe('a busy port', () => {
  let blocker: Server;
  let port: number;
  let dataDir: string;

  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as AddressInfo).port;
    dataDir = mkdtempSync(join(tmpdir(), 'busy-port-'));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('npm start (the service) exits 1 naming the port, never logging "listening"', async () => {
    const r = await run(['--import', 'tsx', 'src/server.ts'], { PORT: String(port), HOST: '127.0.0.1', RECORD_DATA_DIR: join(dataDir, 'records'), LOG_LEVEL: 'info' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`lumbar-mri-cds: port ${port} on 127.0.0.1 is already in use; stop what listens there or choose another port`);
    expect(r.stdout).not.toMatch(/listening/);
  }, 90_000);

  it('serve-fhir exits 1 with one line naming the port and no stack trace', async () => {
    const r = await run(['bin/lumbar-mri-cds.js', 'serve-fhir', '--port', String(port), 'fixtures/synthea'], {});
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`serve-fhir: port ${port} on 127.0.0.1 is already in use; stop what listens there or choose another port`);
    expect(r.stdout).not.toMatch(/listening/);
  }, 90_000);
});
