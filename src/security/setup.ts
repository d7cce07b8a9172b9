/**
 * Client authentication and the per-client rate limit, built from configuration: what server.ts
 * passes to createApp, and what tests build the same way.
 */
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Config } from '../config/config.js';
import { retryLater } from '../hooks/errors.js';
import { createClientAuthenticator } from './clientAuth.js';
import { requireClientAuth, type AuthLogger } from './middleware.js';
import { createMemoryReplayCache, type ReplayCache } from './replayCache.js';
import { loadTrustedClients } from './trustedClients.js';

export interface ClientAuthSetupOptions {
  /** Shared replay cache for several instances (default: in memory, one process). */
  readonly replayCache?: ReplayCache;
  /** Clock in ms since the epoch, for tests. */
  readonly now?: () => number;
}

/**
 * The middleware guarding hook and feedback calls, or undefined when CDS_AUTH=off.
 * CDS_AUTH=required without a readable, valid CDS_TRUSTED_CLIENTS file is a start-up error:
 * a service that trusts no one, or trusts by accident, must not start.
 */
export async function createClientAuth(
  config: Pick<Config, 'auth' | 'trustedClientsFile' | 'publicBaseUrl'> & Partial<Pick<Config, 'jwksTimeoutMs'>>,
  logger: AuthLogger,
  options: ClientAuthSetupOptions = {},
): Promise<RequestHandler | undefined> {
  if (config.auth === 'off') return undefined;
  if (!config.trustedClientsFile) {
    throw new Error('CDS_AUTH=required needs CDS_TRUSTED_CLIENTS: the path of the trusted clients JSON file (README "Security")');
  }
  const clients = await loadTrustedClients(config.trustedClientsFile);
  const authenticator = createClientAuthenticator({
    clients,
    replayCache: options.replayCache ?? createMemoryReplayCache(),
    // A key server that hangs (an allow-listed jku) holds its callers no longer than this.
    ...(config.jwksTimeoutMs ? { jwks: { timeoutMs: config.jwksTimeoutMs } } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  return requireClientAuth(authenticator, { mode: 'required', publicBaseUrl: config.publicBaseUrl, logger });
}

/**
 * At most `perMinute` hook and feedback calls a minute per authenticated client (its `iss`),
 * else per IP address; 0 turns the limit off. Runs after authentication, so `iss` is verified.
 */
export function clientRateLimit(perMinute: number): RequestHandler {
  if (perMinute <= 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req, res) => {
      const client = res.locals.client;
      return client ? `iss:${client.iss}` : `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`;
    },
    handler: (_req, _res, next) => {
      next(retryLater(429, 'throttled', `More than ${perMinute} requests a minute from this client; retry after the time in the RateLimit header`));
    },
  });
}
