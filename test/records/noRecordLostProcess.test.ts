/**
 * Fault suite, whole process (issue 18 item 1): the service as `npm start` runs it, in a child
 * process, SIGKILLed and then SIGTERMed under load while PostgreSQL is unreachable (a loopback
 * proxy stopped), restarted on the same RECORD_DATA_DIR once PostgreSQL is back: the records in
 * PostgreSQL equal the 200 answers across all three lives.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driveLoad, type LoadResult } from '../helpers/load.js';
import { createTestDatabase, storedHookCalls, throughProxy } from '../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CAUDA = JSON.parse(readFileSync(join(ROOT, 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json'), 'utf8'));
const body = (): string => JSON.stringify({ ...CAUDA, hookInstance: randomUUID() });

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(addr && typeof addr === 'object' ? addr.port : 0));
    });
  });
}

interface Service {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startService(env: Record<string, string>): Promise<Service> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/server.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${url}/health/live`)).status === 200) return { child, url, exited };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('the service did not start within 30 s');
}

const pendingOf = async (url: string): Promise<number> =>
  Number(/^cds_decision_records_pending (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? NaN);

describe('no decision record lost: SIGKILL and SIGTERM during a PostgreSQL outage', () => {
  let db: { url: string; drop: () => Promise<void> };
  let proxy: TcpProxy;
  let dataDir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    proxy = await startTcpProxy(Number(new URL(db.url).port || 5432));
    dataDir = mkdtempSync(join(tmpdir(), 'lumbar-outbox-'));
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await proxy.close();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('counts records in PostgreSQL equal to 200 answers after a kill, a graceful stop and a restart', async () => {
    // One client past the per-client limit, on a machine that may lag: no rate limit and no shedding here (tested elsewhere).
    const env = { DATABASE_URL: throughProxy(db.url, proxy.port), RECORD_DATA_DIR: dataDir, SHUTDOWN_TIMEOUT_MS: '2000', RATE_LIMIT_PER_MINUTE: '0', MAX_IN_FLIGHT: '0', MAX_EVENT_LOOP_DELAY_MS: '0' };
    const total: LoadResult = { ok: 0, other: 0, failed: 0 };
    const add = (r: LoadResult): void => {
      total.ok += r.ok;
      total.other += r.other;
      total.failed += r.failed;
    };
    const sign = (s: Service): string => `${s.url}/cds-services/lumbar-mri-order-sign`;

    // 1. PostgreSQL up, then down; SIGKILL under load while records wait in the outbox.
    const first = await startService(env);
    children.push(first.child);
    add(await driveLoad(sign(first), body, { connections: 4, durationMs: 1_000 }));
    await proxy.stop();
    let killedWithPending = 0;
    const killed = (async () => {
      await new Promise((r) => setTimeout(r, 1_500));
      killedWithPending = await pendingOf(first.url);
      first.child.kill('SIGKILL');
      await first.exited;
    })();
    add(await driveLoad(sign(first), body, { connections: 4, durationMs: 30_000, until: killed }));
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(killedWithPending).toBeGreaterThan(0);

    // 2. Restarted during the outage on the same folder: it starts, answers, and SIGTERM drains it.
    const second = await startService(env);
    children.push(second.child);
    expect(await pendingOf(second.url)).toBeGreaterThanOrEqual(killedWithPending);
    const stopped = (async () => {
      await new Promise((r) => setTimeout(r, 1_500));
      const at = Date.now();
      second.child.kill('SIGTERM');
      const exit = await second.exited;
      return { exit, tookMs: Date.now() - at };
    })();
    add(await driveLoad(sign(second), body, { connections: 4, durationMs: 30_000, until: stopped }));
    const { exit, tookMs } = await stopped;
    expect(exit.code).toBe(0);
    expect(tookMs).toBeLessThan(6_000);

    // 3. PostgreSQL back; a third life delivers everything the first two answered.
    await proxy.start();
    const third = await startService(env);
    children.push(third.child);
    for (let i = 0; i < 300 && (await pendingOf(third.url)) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await pendingOf(third.url)).toBe(0);
    expect(total.other).toBe(0);
    expect(total.ok).toBeGreaterThan(20);
    expect(await storedHookCalls(db.url)).toBe(total.ok);

    third.child.kill('SIGTERM');
    expect((await third.exited).code).toBe(0);
  }, 120_000);
});
