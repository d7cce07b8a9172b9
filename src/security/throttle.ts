/**
 * Throttles for the service's doors: failed credentials are counted per address BEFORE the next
 * credential is checked, so a caller guessing tokens (or flooding the log with bad ones) is refused
 * unverified once over the limit; a bearer-token check for operator surfaces (/coverage-assertions,
 * /metrics).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { retryLater, unauthorized } from '../hooks/errors.js';

export interface FailureLimitOptions {
  /** Failures a minute per address; 0 turns the limit off. */
  readonly perMinute: number;
  /** What the caller failed, for the 429's words: e.g. "client authentication". */
  readonly what: string;
  /** Counts a finished response as a failure (default: a 401). */
  readonly failed?: (res: Response) => boolean;
}

/**
 * At most `perMinute` failed calls a minute per IP address; past that every call from the address
 * is answered 429 without its credential being looked at (verifying a signature, or logging a
 * warning, costs more than refusing). Successful calls are not counted.
 */
export function failureLimit(options: FailureLimitOptions): RequestHandler {
  if (options.perMinute <= 0) return (_req, _res, next) => next();
  const failed = options.failed ?? ((res: Response) => res.statusCode === 401);
  return rateLimit({
    windowMs: 60_000,
    limit: options.perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => !failed(res),
    keyGenerator: (req) => `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`,
    handler: (_req, _res, next) => {
      next(retryLater(429, 'throttled', `More than ${options.perMinute} failed ${options.what} attempts a minute from this address; retry after the time in the RateLimit header`));
    },
  });
}

/** The bearer token of a request, or '' when there is none. */
function bearerOf(req: Request): string {
  return /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1] ?? '';
}

/** Constant-time comparison: how much of a guess matched must not show in the answer's timing. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Requires `Authorization: Bearer <token>`; otherwise 401 (counted by a `failureLimit` placed before it). */
export function requireBearer(token: string, reason: string): RequestHandler {
  return (req, _res, next) => {
    next(sameSecret(bearerOf(req), token) ? undefined : unauthorized(reason, 'Bearer', reason));
  };
}
