import type { Config } from '../config/config.js';
import type { ReadinessCheck } from '../store/types.js';
import { SharedDecisionCache, type DecisionCache } from '../decision/decisionCache.js';
import type { Logger } from '../log.js';
import { ReplayCacheUnavailableError, TokenPredatesReplayCacheError, type ReplayCache } from '../security/replayCache.js';
import { createSharedCache, type SharedCache } from '../kv/kv.js';

/** Where the replay cache records since when it remembers (`|` never occurs in it: jti keys are `iss|jti`). */
const EPOCH_KEY = '!epoch';
/** The epoch is kept as long as the store keeps it (a restart or an eviction loses it, and that is detected). */
const EPOCH_TTL_SECONDS = 10 * 365 * 24 * 3600;

/**
 * The jti replay cache on a SharedCache: `SET NX` semantics, so two instances never both accept a jti.
 *
 * It survives the store forgetting (Redis restarts without persistence, is flushed, evicts): the
 * store holds an epoch, the time since which it remembers, written if absent on every check. A store
 * that lost its keys lost the epoch too, so the next check writes a new one, and a token issued
 * before it (which may have been used already) is refused. A store that cannot answer is an outage
 * (ReplayCacheUnavailableError: 503), never a pass and never the client's fault.
 */
export class SharedReplayCache implements ReplayCache {
  constructor(
    private readonly cache: SharedCache,
    private readonly now: () => number = Date.now,
  ) {
    // Mark the start: a store that was empty when this instance started remembers from now.
    this.epochMs().catch(() => undefined);
  }

  /** Since when (ms since the epoch) the store has remembered every jti it was given. */
  async epochMs(): Promise<number> {
    await this.cache.setIfAbsent(EPOCH_KEY, String(this.now()), EPOCH_TTL_SECONDS);
    const epoch = Number(await this.cache.get(EPOCH_KEY));
    // Lost between the two calls (a restart just then): remember from now.
    return Number.isFinite(epoch) && epoch > 0 ? epoch : this.now();
  }

  async checkAndRemember(key: string, ttlSeconds: number, issuedAtSeconds?: number): Promise<boolean> {
    try {
      if (issuedAtSeconds !== undefined) {
        const epoch = await this.epochMs();
        // `iat` has one-second resolution: a token of the epoch's own second passes (a window under a second).
        if (issuedAtSeconds < Math.floor(epoch / 1000)) {
          throw new TokenPredatesReplayCacheError(`token issued before the replay cache's memory begins (${new Date(epoch).toISOString()})`);
        }
      }
      return await this.cache.setIfAbsent(key, '1', Math.max(1, Math.ceil(ttlSeconds)));
    } catch (err) {
      if (err instanceof TokenPredatesReplayCacheError) throw err;
      throw new ReplayCacheUnavailableError(`replay cache unavailable: ${(err as Error).message}`);
    }
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
  config: Pick<Config, 'redisUrl' | 'decisionCacheTtlSeconds' | 'decisionCacheMaxKeys' | 'decisionCacheKey'>,
  logger: Logger,
  /** Key prefix in Redis: deployments sharing one Redis keep apart by it (tests use a fresh one). */
  namespace = 'lumbar-mri-cds',
): SharedState {
  const jti = createSharedCache({ redisUrl: config.redisUrl, prefix: `${namespace}:jti:`, maxKeys: 100_000, logger });
  const decisions =
    config.decisionCacheTtlSeconds > 0 && config.decisionCacheMaxKeys > 0
      ? createSharedCache({ redisUrl: config.redisUrl, prefix: `${namespace}:decision:`, maxKeys: config.decisionCacheMaxKeys, logger })
      : undefined;
  if (decisions && config.redisUrl && !config.decisionCacheKey) {
    logger.warn('decision cache in Redis without DECISION_CACHE_KEY: entries are sealed with a key of this process only, so other instances (and this one after a restart) cannot use them');
  }
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
