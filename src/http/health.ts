/**
 * Readiness for `GET /health`: load balancers and docker-compose send traffic only on 200.
 * Ready means policies are loaded and every registered check (stores, caches) passes.
 */
import type { PolicyLibrary } from '../library/library.js';
import type { ReadinessCheck } from '../store/types.js';

export interface HealthReport {
  readonly status: 'ok' | 'unavailable';
  readonly policyCount: number;
  /** `policyId@version` of every policy version loaded. */
  readonly policies: readonly string[];
  readonly checks: Readonly<Record<string, 'ok' | string>>;
}

/** A check that hangs counts as failed, so /health itself always answers. */
const CHECK_TIMEOUT_MS = 2000;

export async function healthReport(library: PolicyLibrary, checks: readonly ReadinessCheck[] = []): Promise<HealthReport> {
  const results: Record<string, string> = {};
  let ready = library.policies.length > 0;
  if (!ready) results.policies = 'no policy loaded';
  await Promise.all(
    checks.map(async (c) => {
      let problem: string | undefined;
      try {
        problem = await withTimeout(c.check(), CHECK_TIMEOUT_MS);
      } catch (err) {
        problem = err instanceof Error ? err.message : String(err);
      }
      results[c.name] = problem ?? 'ok';
      if (problem !== undefined) ready = false;
    }),
  );
  return {
    status: ready ? 'ok' : 'unavailable',
    policyCount: library.policies.length,
    policies: library.policies.map((p) => `${p.policyId}@${p.version}`),
    checks: results,
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${ms} ms`), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
