import type { Config } from './config/config.js';
import type { ReadinessCheck } from './health.js';
import { SharedDecisionCache, type DecisionCache } from './decision/decisionCache.js';
import type { Logger } from './log.js';
import type { ReplayCache } from './security/replayCache.js';
import { createSharedCache, type SharedCache } from './store/kv.js';

/** The jti replay cache on a SharedCache: `SET NX` semantics, so two instances never both accept a jti. */
export class SharedReplayCache implements ReplayCache {
  constructor(private readonly cache: SharedCache) {}

  /** Errors propagate: the authenticator fails closed (401) when the shared cache cannot answer. */
  checkAndRemember(key: string, ttlSeconds: number): Promise<boolean> {
    return this.cache.setIfAbsent(key, '1', Math.max(1, Math.ceil(ttlSeconds)));
  }
}

export interface SharedState {
  readonly replayCache: ReplayCache;
  readonly decisionCache: DecisionCache | undefined;
  /** Where the state lives, for logs and /health. */
  readonly backend: 'memory' | 'redis';
  /** Redis reachable, when REDIS_URL is set (none in memory). */
  readonly readiness: readonly ReadinessCheck[];
  close(): Promise<void>;
}

/**
 * The state several instances must share: the jti replay cache and the order-select to order-sign
 * decision cache. In memory by default; in Redis when REDIS_URL is set, with the same TTL rules.
 */
export function setupSharedState(
  config: Pick<Config, 'redisUrl' | 'decisionCacheTtlSeconds' | 'decisionCacheMaxKeys'>,
  logger: Logger,
  /** Key prefix in Redis: deployments sharing one Redis keep apart by it (tests use a fresh one). */
  namespace = 'lumbar-mri-cds',
): SharedState {
  const jti = createSharedCache({ redisUrl: config.redisUrl, prefix: `${namespace}:jti:`, maxKeys: 100_000, logger });
  const decisions =
    config.decisionCacheTtlSeconds > 0 && config.decisionCacheMaxKeys > 0
      ? createSharedCache({ redisUrl: config.redisUrl, prefix: `${namespace}:decision:`, maxKeys: config.decisionCacheMaxKeys, logger })
      : undefined;
  return {
    replayCache: new SharedReplayCache(jti),
    decisionCache: decisions ? new SharedDecisionCache(decisions, config.decisionCacheTtlSeconds) : undefined,
    backend: config.redisUrl ? 'redis' : 'memory',
    readiness: config.redisUrl
      ? [
          {
            name: 'redis',
            async check() {
              try {
                await jti.ping();
                return undefined;
              } catch (err) {
                return `Redis not reachable: ${err instanceof Error ? err.message : String(err)}`;
              }
            },
          },
        ]
      : [],
    async close() {
      await jti.close();
      await decisions?.close();
    },
  };
}
