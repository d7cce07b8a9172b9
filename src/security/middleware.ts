/**
 * Express 5 glue for client authentication, and the fhirServer allowlist check.
 *
 * CDS Hooks 2.0: `aud` is "the URL of the endpoint being called", so the
 * expected audience is our public base URL (as the client sees it, i.e. as
 * entered in Inferno or the EHR) plus the request path. On failure we answer
 * 401 with only a machine reason (the spec's best practice is no detail) and
 * never echo or log the token.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { isUnderFhirBase, parseFhirBase } from '../fhir/fhirBase.js';
import { HttpError, unauthorized } from '../hooks/errors.js';
import { AuthError, type AuthenticatedClient, type ClientAuthenticator } from './clientAuth.js';

/** The subset of a pino logger we use (pino's Logger satisfies it). */
export interface AuthLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface ClientAuthMiddlewareOptions {
  /** 'off' passes every request through and sets no client (local development only). */
  mode: 'required' | 'off';
  /** e.g. "https://cds.example.org" or "https://host/prefix"; a trailing slash is ignored. */
  publicBaseUrl: string;
  logger: AuthLogger;
}

/** What the middleware stores in `res.locals.client`: typed for every handler (Express's declaration merging). */
declare module 'express-serve-static-core' {
  interface Locals {
    client?: AuthenticatedClient;
  }
}

export function requireClientAuth(
  authenticator: ClientAuthenticator,
  options: ClientAuthMiddlewareOptions,
): RequestHandler {
  const base = options.publicBaseUrl.replace(/\/+$/, '');
  const { logger, mode } = options;

  return (req: Request, res: Response, next: NextFunction): void => {
    if (mode === 'off') {
      next();
      return;
    }
    const audience = expectedAudience(base, req.originalUrl);
    authenticator.authenticate(req.get('authorization'), audience).then(
      (client) => {
        res.locals.client = client;
        next();
      },
      (err: unknown) => {
        if (!(err instanceof AuthError)) {
          next(err);
          return;
        }
        if (err.reason === 'replay-cache-unavailable') {
          // The service cannot tell a replay from a new call: refuse, but as its own outage, not the client's fault.
          logger.warn({ event: 'replay-cache-unavailable', path: pathOf(req.originalUrl) }, 'CDS client authentication unavailable: the replay cache cannot answer');
          next(new HttpError(503, 'transient', 'Client tokens cannot be checked for replay right now (the replay cache is unavailable); retry shortly with a new token', undefined, { headers: { 'Retry-After': '5' }, reason: err.reason }));
          return;
        }
        // One line, no token: iss/jti are as claimed (unverified) and truncated.
        // A bad audience names both sides: localhost vs 127.0.0.1, or another port, is then plain to see.
        const received = err.receivedAudience ? { receivedAud: err.receivedAudience } : {};
        logger.warn(
          { event: 'client-auth-failed', reason: err.reason, iss: err.iss, jti: err.jti, path: pathOf(req.originalUrl), aud: audience, ...received },
          err.receivedAudience
            ? `CDS client authentication failed: bad-audience: the token's aud is ${err.receivedAudience.join(', ') || '(none)'}, this endpoint expects ${audience} (PUBLIC_BASE_URL must be the base the client calls)`
            : `CDS client authentication failed: ${err.reason}`,
        );
        next(unauthorized(err.reason, 'Bearer error="invalid_token"'));
      },
    );
  };
}

/** The `aud` a client must use to call `originalUrl` on this service. */
export function expectedAudience(publicBaseUrl: string, originalUrl: string): string {
  return publicBaseUrl.replace(/\/+$/, '') + pathOf(originalUrl);
}

function pathOf(originalUrl: string): string {
  const q = originalUrl.search(/[?#]/);
  const p = q === -1 ? originalUrl : originalUrl.slice(0, q);
  return p.startsWith('/') ? p : `/${p}`;
}

/**
 * May a client whose allowlist is `allowed` send us `fhirServer`?
 * Scheme and host[:port] must match exactly (after URL parsing: host is
 * lower-cased, default ports dropped, dot-segments resolved); the path must
 * equal an allowed base or lie under it at a "/" boundary. Trailing slashes
 * are ignored. URLs with credentials, query or fragment are refused.
 */
export function isFhirServerAllowed(fhirServer: string, allowed: readonly string[]): boolean {
  // A fhirServer is a base: no query. Under an allowed base, as a `next` link must be under its fhirServer.
  if (!parseFhirBase(fhirServer)) return false;
  return allowed.some((a) => isUnderFhirBase(fhirServer, a));
}
