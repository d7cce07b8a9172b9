/**
 * Test helper: a bounded load of hook calls over loopback, counting the answers by status. Used by
 * the fault suite to compare decision records stored with 200 answers.
 */
export interface LoadResult {
  /** Answered 200. */
  ok: number;
  /** Answered with another status. */
  other: number;
  /** No answer (connection refused or cut: the service was stopped or killed). */
  failed: number;
}

export interface LoadOptions {
  readonly connections: number;
  /** Stop sending after this long. */
  readonly durationMs: number;
  /** Called after each 200 with the count so far (fault triggers). */
  readonly onOk?: (ok: number) => void;
  /** Stop early when this resolves. */
  readonly until?: Promise<unknown>;
}

export async function driveLoad(url: string, body: () => string, options: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, other: 0, failed: 0 };
  const endAt = Date.now() + options.durationMs;
  let stopped = false;
  void options.until?.then(() => {
    stopped = true;
  });
  const worker = async (): Promise<void> => {
    while (!stopped && Date.now() < endAt) {
      try {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(), signal: AbortSignal.timeout(15_000) });
        await res.arrayBuffer();
        if (res.status === 200) {
          result.ok++;
          options.onOk?.(result.ok);
        } else result.other++;
      } catch {
        result.failed++;
        // The service is gone: do not spin on refused connections.
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  return result;
}
