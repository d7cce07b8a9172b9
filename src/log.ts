import pino, { type Logger } from 'pino';

/**
 * JSON logs. Fields are ids and outcomes only: never resource contents, names, identifiers, birth
 * dates or tokens. Authorization headers are redacted in case a request object is ever logged.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'lumbar-mri-cds' },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.access_token', 'fhirAuthorization'], remove: true },
  });
}

export type { Logger };
